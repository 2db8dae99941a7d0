package settings

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

func TestFromConfig(t *testing.T) {
	text := `{
  "target": "pod/orders",
  "skip_processes": ["bash"],
  "internal_proxy": {"idle_timeout": 2},
  "feature": {
    "env": {"include": "APP_*", "override": {"A": "1"}, "unset": ["B"]},
    "fs": {"mode": "write", "read_only": ["^/app"]},
    "network": {
      "incoming": {"mode": "steal", "port_mapping": [[8080, 80]], "http_filter": {"header_filter": "x-user: me", "ports": [80]}},
      "outgoing": {"filter": {"local": [":5432"]}},
      "dns": {"filter": {"remote": ["orders.internal"]}}
    }
  }
}`
	env := func(string) (string, bool) { return "", false }
	res := schema.Verify(context.Background(), []byte(text), schema.Options{Path: "mirrord.json", Env: env})
	if res.Config == nil {
		t.Fatalf("config did not resolve: %+v", res.Diagnostics)
	}
	got, err := FromConfig(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Target = "pod/orders"
	want.SkipProcesses = []string{"bash"}
	want.InternalProxy.IdleTimeout = Duration(2 * time.Second)
	want.Env = Env{Include: []string{"APP_*"}, Override: map[string]string{"A": "1"}, Unset: got.Env.Unset}
	want.FS = FS{Mode: FSWrite, ReadOnly: []string{"^/app"}}
	want.Incoming = Incoming{Mode: IncomingSteal, PortMapping: [][2]uint16{{8080, 80}},
		HTTPFilter: &protocol.HTTPFilter{Header: "x-user: me"}, HTTPFilterPorts: []uint16{80}}
	want.Outgoing.Filter = AddressFilter{Local: []string{":5432"}}
	want.DNS.Filter = AddressFilter{Remote: []string{"orders.internal"}}
	// the engine may add names to unset (the AWS magic unsets AWS_PROFILE)
	found := false
	for _, u := range got.Env.Unset {
		found = found || u == "B"
	}
	if !found {
		t.Fatalf("unset %v lacks B", got.Env.Unset)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}
