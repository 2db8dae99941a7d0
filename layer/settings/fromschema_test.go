package settings

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

func TestFromConfig(t *testing.T) {
	text := `{
  "target": "pod/orders",
  "agent": {"address": "127.0.0.1:61337", "token": "sekrit"},
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
	want.Agent = Agent{Address: "127.0.0.1:61337", Token: "sekrit"}
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

func TestFromConfigErrors(t *testing.T) {
	yes := true
	jq := ".x"
	tests := []struct {
		name string
		cfg  func(c *schema.Config)
		want string // "" : accepted
	}{
		{"header_filter_jq", func(c *schema.Config) { c.Feature.Network.Incoming.HTTPFilter.HeaderFilterJq = &jq }, "/feature/network/incoming/http_filter/header_filter_jq: `header_filter_jq`"},
		{"body_filter", func(c *schema.Config) {
			c.Feature.Network.Incoming.HTTPFilter.BodyFilter = map[string]any{"body": "json"}
		}, "/feature/network/incoming/http_filter/body_filter"},
		{"operator", func(c *schema.Config) { c.Operator = &yes }, "/operator: `operator: true`"},
		{"copy_target", func(c *schema.Config) { c.Feature.CopyTarget.Enabled = true }, "/feature/copy_target"},
		{"all_of", func(c *schema.Config) {
			c.Feature.Network.Incoming.HTTPFilter.AllOf = []any{map[string]any{"header": "a"}, map[string]any{"path": "/b"}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := schema.Verify(context.Background(), []byte(`{}`), schema.Options{Path: "m.json", Env: func(string) (string, bool) { return "", false }})
			if res.Config == nil {
				t.Fatalf("%+v", res.Diagnostics)
			}
			tt.cfg(res.Config)
			s, err := FromConfig(res.Config)
			if tt.want == "" {
				if err != nil || s.Incoming.HTTPFilter == nil || len(s.Incoming.HTTPFilter.AllOf) != 2 {
					t.Fatalf("%+v, %v", s.Incoming.HTTPFilter, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := FromConfig(nil); err == nil {
		t.Fatal("nil config accepted")
	}
}
