package schema

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/kube/targetpath"
)

func verifyText(t *testing.T, path, text string, env map[string]string, ide bool) *Result {
	t.Helper()
	return Verify(context.Background(), []byte(text), Options{
		Path:      path,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		IDE:       ide,
		GitBranch: func() (string, bool) { return "", false },
	})
}

// TestPrecedence: environment (and CLI flags, which arrive as
// environment overrides) > file > default, field by field.
func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		get  func(c *Config) any
		want any
	}{
		{"default ttl", `{}`, nil, func(c *Config) any { return c.Agent.TTL }, uint16(1)},
		{"file ttl", `{"agent": {"ttl": 30}}`, nil, func(c *Config) any { return c.Agent.TTL }, uint16(30)},
		{"env ttl beats file", `{"agent": {"ttl": 30}}`, map[string]string{"MIRRORD_AGENT_TTL": "7"}, func(c *Config) any { return c.Agent.TTL }, uint16(7)},
		{"target from env", `{"target": "pod/a"}`, map[string]string{"MIRRORD_IMPERSONATED_TARGET": "deploy/b/container/c"}, func(c *Config) any { return c.Target.Path.String() }, "deployment/b/container/c"},
		{"namespace from env", `{"target": {"path": "pod/a", "namespace": "x"}}`, map[string]string{"MIRRORD_TARGET_NAMESPACE": "y"}, func(c *Config) any { return *c.Target.Namespace }, "y"},
		{"steal env true", `{"feature": {"network": {"incoming": "mirror"}}}`, map[string]string{"MIRRORD_AGENT_TCP_STEAL_TRAFFIC": "true"}, func(c *Config) any { return c.Feature.Network.Incoming.Mode }, "steal"},
		{"incoming true is mirror", `{"feature": {"network": {"incoming": true}}}`, nil, func(c *Config) any { return c.Feature.Network.Incoming.Mode }, "mirror"},
		{"incoming false is off", `{"feature": {"network": {"incoming": false}}}`, nil, func(c *Config) any { return c.Feature.Network.Incoming.Mode }, "off"},
		{"network false", `{"feature": {"network": false}}`, nil, func(c *Config) any {
			n := c.Feature.Network
			return []any{n.Incoming.Mode, n.Outgoing.TCP, n.Outgoing.UDP, n.DNS.Enabled, n.IPv6}
		}, []any{"off", false, false, false, true}},
		{"network false, env re-enables dns", `{"feature": {"network": false}}`, map[string]string{"MIRRORD_REMOTE_DNS": "true"}, func(c *Config) any { return c.Feature.Network.DNS.Enabled }, true},
		{"outgoing false, env tcp", `{"feature": {"network": {"outgoing": false}}}`, map[string]string{"MIRRORD_TCP_OUTGOING": "true"}, func(c *Config) any {
			return []bool{c.Feature.Network.Outgoing.TCP, c.Feature.Network.Outgoing.UDP}
		}, []bool{true, false}},
		{"fs true", `{"feature": {"fs": true}}`, nil, func(c *Config) any { return c.Feature.Fs.Mode }, "read"},
		{"fs false", `{"feature": {"fs": false}}`, nil, func(c *Config) any { return c.Feature.Fs.Mode }, "local"},
		{"fs mode env", `{"feature": {"fs": "read"}}`, map[string]string{"MIRRORD_FILE_MODE": "write"}, func(c *Config) any { return c.Feature.Fs.Mode }, "write"},
		{"fs ops env", `{"feature": {"fs": "local"}}`, map[string]string{"MIRRORD_FILE_OPS": "true"}, func(c *Config) any { return c.Feature.Fs.Mode }, "write"},
		{"fs ro ops env", `{"feature": {"fs": "write"}}`, map[string]string{"MIRRORD_FILE_RO_OPS": "true"}, func(c *Config) any { return c.Feature.Fs.Mode }, "read"},
		{"fs ops false", `{"feature": {"fs": "write"}}`, map[string]string{"MIRRORD_FILE_OPS": "false"}, func(c *Config) any { return c.Feature.Fs.Mode }, "local"},
		{"env false excludes all", `{"feature": {"env": false}}`, nil, func(c *Config) any { return c.Feature.Env.Exclude }, []string{"*"}},
		{"env list from variable", `{}`, map[string]string{"MIRRORD_OVERRIDE_ENV_VARS_INCLUDE": "A;B_*"}, func(c *Config) any { return c.Feature.Env.Include }, []string{"A", "B_*"}},
		{"copy_target object implies enabled", `{"feature": {"copy_target": {"scale_down": true}}}`, nil, func(c *Config) any {
			return []bool{c.Feature.CopyTarget.Enabled, c.Feature.CopyTarget.ScaleDown}
		}, []bool{true, true}},
		{"image env wins", `{"agent": {"image": "a:1"}}`, map[string]string{"MIRRORD_AGENT_IMAGE": "b:2"}, func(c *Config) any { return c.Agent.Image }, "b:2"},
		{"image file registry beats env registry", `{"agent": {"image": {"registry": "reg"}}}`, map[string]string{"MIRRORD_AGENT_IMAGE_REGISTRY": "env", "MIRRORD_AGENT_IMAGE_TAG": "t"}, func(c *Config) any { return c.Agent.Image }, "reg:t"},
		{"skip_sip default", `{}`, nil, func(c *Config) any { return c.SkipSip }, []string{"git"}},
		{"skip_sip replaced", `{"skip_sip": "zsh"}`, nil, func(c *Config) any { return c.SkipSip }, []string{"zsh"}},
		{"key from env", `{"key": "file"}`, map[string]string{"MIRRORD_KEY": "env"}, func(c *Config) any { return c.Key }, "env"},
		{"key from file", `{"key": "file"}`, nil, func(c *Config) any { return c.Key }, "file"},
		{"operator env", `{"operator": true}`, map[string]string{"MIRRORD_OPERATOR_ENABLE": "false"}, func(c *Config) any { return *c.Operator }, false},
		{"preview ttl default", `{}`, nil, func(c *Config) any { return *c.Feature.Preview.TTLSecs }, uint64(3600)},
		{"preview ttl mins", `{"feature": {"preview": {"ttl_mins": 2}}}`, nil, func(c *Config) any { return *c.Feature.Preview.TTLSecs }, uint64(120)},
		{"aws magic unsets AWS_PROFILE", `{}`, nil, func(c *Config) any { return c.Feature.Env.Unset }, []string{"AWS_PROFILE"}},
		{"dns reflect local", `{"feature": {"network": {"outgoing": {"filter": {"local": ["db:5432", "10.0.0.1"]}}}}}`, nil, func(c *Config) any { return c.Feature.Network.DNS.Filter.Local }, []string{"db:5432"}},
		{"dns reflect remote without dns filter: left alone", `{"feature": {"network": {"outgoing": {"filter": {"remote": ["db"]}}}}}`, nil, func(c *Config) any { return c.Feature.Network.DNS.Filter == nil }, true},
		{"dns reflect remote appends", `{"feature": {"network": {"outgoing": {"filter": {"remote": ["db"]}}, "dns": {"filter": {"remote": ["x"]}}}}}`, nil, func(c *Config) any { return c.Feature.Network.DNS.Filter.Remote }, []string{"x", "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := verifyText(t, "c.json", tt.file, tt.env, true)
			if res.HasErrors() {
				t.Fatalf("errors: %+v", res.Errors())
			}
			got, _ := json.Marshal(tt.get(res.Config))
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestTargetlessAndIDE(t *testing.T) {
	// Without --ide a missing target is targetless, so steal is an error.
	res := verifyText(t, "c.json", `{"feature": {"network": {"incoming": "steal"}}}`, nil, false)
	if !res.HasErrors() || res.Errors()[0].Code != "V-TARGETLESS-STEAL" {
		t.Errorf("without IDE: %+v", res.Diagnostics)
	}
	res = verifyText(t, "c.json", `{"feature": {"network": {"incoming": "steal"}}}`, nil, true)
	if res.HasErrors() || res.Config.Target.Path != nil || res.Config.Targetless {
		t.Errorf("with IDE: %+v", res.Diagnostics)
	}
	res = verifyText(t, "c.json", `{"target": "targetless"}`, nil, true)
	if p := res.Config.Target.Path; p == nil || p.Kind != targetpath.Targetless || !res.Config.Targetless {
		t.Errorf("explicit targetless: %+v", p)
	}
}

// TestKeyPrePass follows reference §3.3: the key comes from the raw file
// and is rendered alone with only git_branch.
func TestKeyPrePass(t *testing.T) {
	opts := Options{
		Path:      "c.json",
		Env:       func(string) (string, bool) { return "", false },
		GitBranch: func() (string, bool) { return "feat/x", true },
	}
	res := Verify(context.Background(), []byte(`{"key": "{{ git_branch }}-k", "agent": {"labels": {"k": "{{ key }}"}}}`), opts)
	if res.HasErrors() {
		t.Fatal(res.Diagnostics)
	}
	if res.Config.Key != "feat/x-k" || res.Config.KeyGenerated {
		t.Errorf("key = %q", res.Config.Key)
	}
	if !strings.Contains(string(res.Rendered), `"k": "feat/x-k"`) {
		t.Errorf("{{ key }} not rendered with the key: %s", res.Rendered)
	}
	// A raw file that does not parse (double quotes inside a template in
	// a JSON string) silently gets a generated key.
	res = Verify(context.Background(), []byte(`{"key": "{{ get_env(name="K", default="x") }}"}`), opts)
	if res.HasErrors() || !res.Config.KeyGenerated || len(res.Config.Key) != 5 {
		t.Errorf("generated key = %q (%v) %+v", res.Config.Key, res.Config.KeyGenerated, res.Diagnostics)
	}
	// git_branch absent: a template that needs it fails with a position.
	opts.GitBranch = func() (string, bool) { return "", false }
	res = Verify(context.Background(), []byte("{\n  \"target\": \"pod/{{ git_branch }}\"\n}"), opts)
	if !res.HasErrors() || res.Diagnostics[0].Stage != StageTemplate || res.Diagnostics[0].Range.Start.Line != 1 {
		t.Errorf("missing git_branch: %+v", res.Diagnostics)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"a.json": FormatJSON, "a": FormatJSON, "-": FormatJSON, ".mirrord/x.yml": FormatYAML, "a.yaml": FormatYAML, "a.toml": FormatTOML} {
		got, err := FormatOf(path)
		if err != nil || got != want {
			t.Errorf("FormatOf(%q) = %v, %v", path, got, err)
		}
	}
	if _, err := FormatOf("a.conf"); err == nil || !strings.Contains(err.Error(), "must have one of: json, toml, yml, yaml") {
		t.Errorf("a.conf: %v", err)
	}
}

func TestEnvErrors(t *testing.T) {
	res := verifyText(t, "c.json", `{}`, map[string]string{"MIRRORD_AGENT_TTL": "x", "MIRRORD_TELEMETRY": "True"}, true)
	var msgs []string
	for _, d := range res.Errors() {
		msgs = append(msgs, d.Message)
		if d.Stage != StageEnv || d.Range != (Range{}) {
			t.Errorf("env finding %+v", d)
		}
	}
	if len(msgs) != 2 || !strings.Contains(strings.Join(msgs, "|"), "invalid MIRRORD_AGENT_TTL value `x`") {
		t.Errorf("env errors: %v", msgs)
	}
}

// TestVerifyConcurrent: the server verifies documents from many
// goroutines; the lazily built schema and plans are shared.
func TestVerifyConcurrent(t *testing.T) {
	files := corpusFiles(t, "valid")
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			for j, path := range files {
				if (i+j)%2 == 0 {
					continue
				}
				text, err := os.ReadFile(path)
				if err != nil {
					t.Error(err)
					return
				}
				if res := Verify(context.Background(), text, testOptions(t, path)); res.HasErrors() {
					t.Errorf("%s: %+v", path, res.Errors())
				}
			}
		}(i)
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

// TestTemplateRangesMapBack: a finding about a value that a template tag
// produced underlines that tag in the original text, also when rendering
// changed the length of lines before it.
func TestTemplateRangesMapBack(t *testing.T) {
	src := "{# a comment\nthat spans lines #}{\n  \"agent\": {\"ttl\": {{ get_env(name='TTL', default='99999') }}},\n  \"feature\": {\"fs\": \"{{ 'reed' | upper | lower }}\"}\n}\n"
	res := verifyText(t, "c.json", src, nil, true)
	want := map[string]string{
		"/agent/ttl":  "{{ get_env(name='TTL', default='99999') }}",
		"/feature/fs": "\"{{ 'reed' | upper | lower }}\"",
	}
	if len(res.Diagnostics) != len(want) {
		t.Fatalf("diagnostics: %+v", res.Diagnostics)
	}
	for _, d := range res.Diagnostics {
		got := src[d.Range.Start.Offset:d.Range.End.Offset]
		if got != want[d.Pointer] {
			t.Errorf("%s: range covers %q, want %q", d.Pointer, got, want[d.Pointer])
		}
		line := strings.Split(src, "\n")[d.Range.Start.Line]
		if !strings.HasPrefix(line[d.Range.Start.Column:], got[:5]) {
			t.Errorf("%s: line/column %d:%d do not match the offset", d.Pointer, d.Range.Start.Line, d.Range.Start.Column)
		}
	}
}
