package session

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

func TestRuntimeSettings(t *testing.T) {
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
	got, err := runtimeSettings(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := settings.Default()
	want.Target = "pod/orders"
	want.Agent = settings.Agent{Address: "127.0.0.1:61337", Token: "sekrit"}
	want.SkipProcesses = []string{"bash"}
	want.InternalProxy.IdleTimeout = settings.Duration(2 * time.Second)
	want.Env = settings.Env{Include: []string{"APP_*"}, Override: map[string]string{"A": "1"}, Unset: got.Env.Unset}
	want.FS = settings.FS{Mode: settings.FSWrite, ReadOnly: []string{"^/app"}}
	want.Incoming = settings.Incoming{Mode: settings.IncomingSteal, PortMapping: [][2]uint16{{8080, 80}},
		HTTPFilter: &protocol.HTTPFilter{Header: "x-user: me"}, HTTPFilterPorts: []uint16{80}}
	want.Outgoing.Filter = settings.AddressFilter{Local: []string{":5432"}}
	want.DNS.Filter = settings.AddressFilter{Remote: []string{"orders.internal"}}
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
			s, err := runtimeSettings(res.Config)
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
	if _, err := runtimeSettings(nil); err == nil {
		t.Fatal("nil config accepted")
	}
}

// TestEnvironmentOverrides: the MIRRORD_* overrides reach the runtime
// settings through the config engine alone (schema.Resolve reads them;
// runtimeSettings only projects), and a bad value is refused with its name.
func TestEnvironmentOverrides(t *testing.T) {
	env := map[string]string{
		"MIRRORD_AGENT_ADDRESS": "10.0.0.1:1", "MIRRORD_AGENT_TOKEN": "tok", "MIRRORD_FILE_MODE": "local",
		"MIRRORD_AGENT_TCP_STEAL_TRAFFIC": "true", "MIRRORD_SKIP_PROCESSES": "a;b", "MIRRORD_REMOTE_DNS": "false",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	res := schema.Verify(context.Background(), []byte(`{"target": "pod/orders"}`), schema.Options{Path: "mirrord.json", Env: lookup})
	if res.HasErrors() || res.Config == nil {
		t.Fatalf("config did not resolve: %+v", res.Diagnostics)
	}
	s, err := runtimeSettings(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent.Address != "10.0.0.1:1" || s.Agent.Token != "tok" || s.FS.Mode != settings.FSLocal || s.Incoming.Mode != settings.IncomingSteal ||
		!reflect.DeepEqual(s.SkipProcesses, []string{"a", "b"}) || s.DNS.Enabled {
		t.Fatalf("environment not applied: %+v", s)
	}
	env = map[string]string{"MIRRORD_TCP_OUTGOING": "maybe"}
	res = schema.Verify(context.Background(), []byte(`{}`), schema.Options{Path: "mirrord.json", Env: lookup})
	if !res.HasErrors() || !strings.Contains(fmt.Sprint(res.Errors()), "MIRRORD_TCP_OUTGOING") {
		t.Fatalf("MIRRORD_TCP_OUTGOING=maybe: %+v", res.Diagnostics)
	}
}
