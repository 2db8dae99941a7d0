package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileFormats(t *testing.T) {
	want := Default()
	want.Target, want.Targetless = "pod/orders", false
	want.Agent = Agent{Address: "127.0.0.1:61337", Token: "t"}
	want.FS = FS{Mode: FSWrite, ReadOnly: []string{"^/app"}}
	want.Incoming = Incoming{Mode: IncomingSteal, PortMapping: [][2]uint16{{8080, 80}}, IgnorePorts: []uint16{9999},
		HTTPFilter: &protocol.HTTPFilter{Header: "x-user: me"}, HTTPFilterPorts: []uint16{80}}
	want.Outgoing.Filter = AddressFilter{Local: []string{":5432"}}
	want.SkipProcesses = []string{"bash"}
	want.InternalProxy.IdleTimeout = Duration(2 * time.Second)
	files := map[string]string{
		"mirrord.json": `{"target": "pod/orders", "agent": {"address": "127.0.0.1:61337", "token": "t"},
			"skip_processes": "bash", "internal_proxy": {"idle_timeout": 2},
			"feature": {"fs": {"mode": "write", "read_only": "^/app"},
			"network": {"incoming": {"mode": "steal", "port_mapping": [[8080, 80]], "ignore_ports": [9999],
				"http_filter": {"header_filter": "x-user: me", "ports": [80]}},
				"outgoing": {"filter": {"local": [":5432"]}}}}}`,
		"mirrord.yaml": `
target: pod/orders
agent: {address: "127.0.0.1:61337", token: t}
skip_processes: [bash]
internal_proxy: {idle_timeout: 2}
feature:
  fs: {mode: write, read_only: ["^/app"]}
  network:
    incoming: {mode: steal, port_mapping: [[8080, 80]], ignore_ports: [9999], http_filter: {header_filter: "x-user: me", ports: 80}}
    outgoing: {filter: {local: ":5432"}}
`,
		"mirrord.toml": `
target = "pod/orders"
skip_processes = "bash"
[agent]
address = "127.0.0.1:61337"
token = "t"
[internal_proxy]
idle_timeout = 2
[feature.fs]
mode = "write"
read_only = "^/app"
[feature.network.incoming]
mode = "steal"
port_mapping = [[8080, 80]]
ignore_ports = [9999]
http_filter = { header_filter = "x-user: me", ports = [80] }
[feature.network.outgoing.filter]
local = [":5432"]
`,
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			got, err := LoadFile(write(t, name, content))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestShorthands(t *testing.T) {
	tests := []struct {
		json  string
		check func(Settings) bool
	}{
		{`{"feature": {"fs": false}}`, func(s Settings) bool { return s.FS.Mode == FSLocal }},
		{`{"feature": {"fs": "read"}}`, func(s Settings) bool { return s.FS.Mode == FSRead }},
		{`{"feature": {"env": false}}`, func(s Settings) bool { return s.Env.Disabled }},
		{`{"feature": {"network": false}}`, func(s Settings) bool {
			return s.Incoming.Mode == IncomingOff && !s.Outgoing.TCP && !s.Outgoing.UDP && !s.DNS.Enabled
		}},
		{`{"feature": {"network": {"incoming": true}}}`, func(s Settings) bool { return s.Incoming.Mode == IncomingMirror }},
		{`{"feature": {"network": {"incoming": false, "dns": false, "outgoing": false}}}`, func(s Settings) bool {
			return s.Incoming.Mode == IncomingOff && !s.DNS.Enabled && !s.Outgoing.TCP
		}},
		{`{"target": {"path": {"deployment": "d", "container": "c"}}}`, func(s Settings) bool { return s.Target == "deployment/d/container/c" }},
		{`{}`, func(s Settings) bool { return s.Targetless && s.SkipBuildTools }},
	}
	for _, tt := range tests {
		s, err := LoadFile(write(t, "c.json", tt.json))
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if !tt.check(s) {
			t.Errorf("%s: unexpected %+v", tt.json, s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`[]`, "the config must be an object"},
		{`{"feature": {"fs": {"mode": "rw"}}}`, `feature.fs.mode "rw": want read, write, local or localwithoverrides`},
		{`{"feature": {"network": {"incoming": {"port_mapping": [[1]]}}}}`, "feature.network.incoming.port_mapping[0]: want [port, port]"},
		{`{"feature": {"network": {"incoming": {"ports": [70000]}}}}`, "feature.network.incoming.ports[0]: 70000 is not a port"},
		{`{"skip_processes": 3}`, "skip_processes: want a string or a list of strings"},
		{`{"feature": {"network": {"outgoing": {"filter": {"local": "a", "remote": "b"}}}}}`, "set either local or remote"},
		{`{"feature": {"network": {"incoming": {"http_filter": {"header_filter": "a", "path_filter": "b"}}}}}`, "set only one of"},
		{`{"internal_proxy": {"idle_timeout": -1}}`, "internal_proxy.idle_timeout: negative timeout"},
		{`{"feature": `, "parse config"},
	}
	for _, tt := range tests {
		_, err := LoadFile(write(t, "c.json", tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.json, err, tt.want)
		}
	}
}

func TestApplyEnvAndRoundTrip(t *testing.T) {
	s := Default()
	env := map[string]string{
		EnvAgentAddress: "10.0.0.1:1", EnvAgentToken: "tok", "MIRRORD_FILE_MODE": "local",
		"MIRRORD_AGENT_TCP_STEAL_TRAFFIC": "true", "MIRRORD_SKIP_PROCESSES": "a;b", "MIRRORD_REMOTE_DNS": "false",
	}
	if err := s.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if s.Agent.Address != "10.0.0.1:1" || s.Agent.Token != "tok" || s.FS.Mode != FSLocal || s.Incoming.Mode != IncomingSteal ||
		!reflect.DeepEqual(s.SkipProcesses, []string{"a", "b"}) || s.DNS.Enabled {
		t.Fatalf("env not applied: %+v", s)
	}
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip: got %+v, want %+v", back, s)
	}
	bad := func(k string) (string, bool) {
		return map[string]string{"MIRRORD_TCP_OUTGOING": "maybe"}[k], k == "MIRRORD_TCP_OUTGOING"
	}
	if err := s.ApplyEnv(bad); err == nil || !strings.Contains(err.Error(), `MIRRORD_TCP_OUTGOING="maybe"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSkipProcess(t *testing.T) {
	s := Default()
	s.SkipProcesses = []string{"bash"}
	if !s.SkipProcess("bash") || !s.SkipProcess("", "go") || s.SkipProcess("python3") {
		t.Fatal("skip list wrong")
	}
	s.SkipBuildTools = false
	if s.SkipProcess("go") {
		t.Fatal("build tools skipped with skip_build_tools=false")
	}
}
