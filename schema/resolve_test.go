package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
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
		{"image default is ours at this version", `{}`, nil, func(c *Config) any { return c.Agent.Image }, "ghcr.io/mirrord-ls/mirrord-agent:" + AgentImageTag(version.Version)},
		{"image registry alone gets this version", `{"agent": {"image": {"registry": "reg.test/agent"}}}`, nil, func(c *Config) any { return c.Agent.Image }, "reg.test/agent:" + DefaultAgentImageTag()},
		{"image env tag alone", `{}`, map[string]string{"MIRRORD_AGENT_IMAGE_TAG": "7"}, func(c *Config) any { return c.Agent.Image }, DefaultAgentImage + ":7"},
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
		{"agent address from file", `{"agent": {"address": "10.0.0.1:61337", "token": "f"}}`, nil, func(c *Config) any { return []string{*c.Agent.Address, *c.Agent.Token} }, []string{"10.0.0.1:61337", "f"}},
		{"agent address and token env beat file", `{"agent": {"address": "10.0.0.1:61337", "token": "f"}}`, map[string]string{"MIRRORD_AGENT_ADDRESS": "[::1]:7", "MIRRORD_AGENT_TOKEN": "e"}, func(c *Config) any { return []string{*c.Agent.Address, *c.Agent.Token} }, []string{"[::1]:7", "e"}},
		{"agent address and env token", `{"agent": {"address": "h:1"}}`, map[string]string{"MIRRORD_AGENT_TOKEN": "e"}, func(c *Config) any { return []any{*c.Agent.Address, *c.Agent.Token} }, []any{"h:1", "e"}},
		{"agent default address", `{}`, nil, func(c *Config) any { return c.Agent.Address == nil && c.Agent.Token == nil }, true},
		{"agent pod defaults", `{}`, nil, func(c *Config) any {
			a := c.Agent
			return []any{a.Tolerations, a.Resources, a.CheckOutOfPods, a.Privileged, a.OverrideCacheControl, a.MaxBodyBufferSize, a.MaxBodyBufferTimeout, a.DisableMeshSidecarInjection, a.JaqTimeLimit, a.InjectHeaders, a.Nftables}
		}, []any{DefaultAgentTolerations(), DefaultAgentResources(), true, false, true, 65535, 1000, true, 1, false, nil}},
		{"agent pod from file", `{"agent": {"tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 5, "extra": 1}], "resources": {"limits": {"cpu": 2, "memory": "1Gi"}, "claims": [{"name": "gpu"}]}, "labels": {"a": "b"}, "service_account": "sa", "image_pull_secrets": [{"name": "s"}], "dns": {"timeout": 3}, "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}}, "nftables": false}}`, nil, func(c *Config) any {
			a := c.Agent
			return []any{a.Tolerations, a.Resources, a.Labels, *a.ServiceAccount, a.ImagePullSecrets, *a.DNS.Timeout, a.DNS.Attempts, a.SecurityContext, *a.Nftables}
		}, []any{
			[]Toleration{{Key: "k", Operator: "Equal", Value: "v", Effect: "NoSchedule", TolerationSeconds: new(int64(5))}},
			ResourceRequirements{Limits: map[string]string{"cpu": "2", "memory": "1Gi"}, Claims: []ResourceClaim{{Name: "gpu"}}},
			map[string]string{"a": "b"}, "sa", []ImagePullSecret{{Name: "s"}}, 3, nil,
			SecurityContextConfig{SeccompProfile: &SecurityProfileConfig{Type: "RuntimeDefault"}}, false,
		}},
		{"agent empty tolerations stay empty", `{"agent": {"tolerations": []}}`, nil, func(c *Config) any { return c.Agent.Tolerations }, []Toleration{}},
		{"internal proxy defaults", `{}`, nil, func(c *Config) any {
			p := c.IntProxy
			p.LogDestination = ""
			return p
		}, InternalProxyConfig{StartIdleTimeout: 60, IdleTimeout: 5, SocketTimeout: 31536000, PingInterval: 30, LogLevel: "mirrord=info,warn", JSONLog: true, ProcessLoggingInterval: 60}},
		{"internal proxy from file", `{"internal_proxy": {"start_idle_timeout": 9, "idle_timeout": 0, "log_destination": "/var/log/ip.log"}}`, nil, func(c *Config) any {
			return []any{c.IntProxy.StartIdle().String(), c.IntProxy.Idle().String(), c.IntProxy.LogDestination}
		}, []any{"9s", "0s", "/var/log/ip.log"}},
		{"external proxy defaults", `{}`, nil, func(c *Config) any {
			p := c.ExtProxy
			p.LogDestination = ""
			return p
		}, ExternalProxyConfig{TLSEnable: true, StartIdleTimeout: 60, IdleTimeout: 5, LogLevel: "mirrord=info,warn", JSONLog: true}},
		{"container defaults", `{}`, nil, func(c *Config) any { return c.CLIContainer }, ContainerConfig{CliImage: DefaultCLIImage, CliExtraArgs: []string{}, HostGatewayDetection: true, CliTLSPath: DefaultCLITLSPath}},
		{"container from file", `{"container": {"cli_image": "x:1", "platform": "linux/arm64", "host_gateway_detection": false}}`, nil, func(c *Config) any {
			return []any{c.CLIContainer.CliImage, *c.CLIContainer.Platform, c.CLIContainer.HostGatewayDetection}
		}, []any{"x:1", "linux/arm64", false}},
		{"experimental defaults", `{}`, nil, func(c *Config) any { return c.Experiments }, ExperimentalConfig{TCPPing4Mock: true, EnableExecHooksLinux: true, UseDevNull: true, IdleLocalHTTPConnectionTimeout: 3000, NonBlockingTCPConnect: true, SipUtils: true}},
		{"experimental from file", `{"experimental": {"latency": {"receive_delay": 7}, "applev": {}, "go_asmcgocall": false}}`, nil, func(c *Config) any {
			return []any{c.Experiments.Latency, c.Experiments.Applev != nil, *c.Experiments.GoAsmcgocall}
		}, []any{LatencyConfig{ReceiveDelay: 7}, true, false}},
		{"ci", `{"ci": {"output_dir": "/o"}}`, nil, func(c *Config) any { return *c.CISettings.OutputDir }, "/o"},
		{"jira absent", `{}`, nil, func(c *Config) any { return c.Jira }, JiraConfig{IssueKeyPattern: DefaultJiraIssueKeyRegexp}},
		{"jira file url alone is not used", `{"jira": {"url": "https://x.atlassian.net"}}`, nil, func(c *Config) any { return c.Jira }, JiraConfig{IssueKeyPattern: DefaultJiraIssueKeyRegexp}},
		{"jira file narrows the env site", `{"jira": {"url": "https://x.atlassian.net/a"}}`, map[string]string{"MIRRORD_JIRA_URL": "https://x.atlassian.net"}, func(c *Config) any { return c.Jira }, JiraConfig{Enabled: true, URL: new("https://x.atlassian.net/a"), IssueKeyPattern: DefaultJiraIssueKeyRegexp}},
		{"jira env beats file", `{"jira": {"url": "https://x.atlassian.net", "issue_key_pattern": "A-[0-9]+", "enabled": true}}`, map[string]string{"MIRRORD_JIRA_URL": "https://y.example", "MIRRORD_JIRA_ISSUE_KEY_PATTERN": "B-[0-9]+", "MIRRORD_JIRA_ENABLED": "false"}, func(c *Config) any { return c.Jira }, JiraConfig{URL: new("https://y.example"), IssueKeyPattern: "B-[0-9]+"}},
		{"jira env url enables", `{}`, map[string]string{"MIRRORD_JIRA_URL": "https://y.example"}, func(c *Config) any { return c.Jira.Enabled }, true},
		{"dns reflect remote appends", `{"feature": {"network": {"outgoing": {"filter": {"remote": ["db"]}}, "dns": {"filter": {"remote": ["x"]}}}}}`, nil, func(c *Config) any { return c.Feature.Network.DNS.Filter.Remote }, []string{"x", "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := verifyText(t, "c.json", tt.file, tt.env, true)
			cfg := res.Config
			for _, d := range res.Errors() {
				// Settings the runtime does not honour still resolve.
				if d.Code != "V-UNSUPPORTED" {
					t.Fatalf("errors: %+v", res.Errors())
				}
			}
			if cfg == nil && res.File != nil {
				cfg, _ = resolve(res.File, "key", &Options{Env: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }})
			}
			got, _ := json.Marshal(tt.get(cfg))
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

// TestVerifyFormatOverride: Options.Format wins over the extension (a
// language server that decided the format itself).
func TestVerifyFormatOverride(t *testing.T) {
	yaml, toml := FormatYAML, FormatTOML
	for _, tc := range []struct {
		name, path, text string
		format           *Format
		want             Format
		wantErr          string
	}{
		{"by extension", "a.json", `{"target": "pod/x"}`, nil, FormatJSON, ""},
		{"yaml in a .json name", "a.json", "target: pod/x\n", &yaml, FormatYAML, ""},
		{"toml without extension", "a.conf", "target = \"pod/x\"\n", &toml, FormatTOML, ""},
		{"unknown extension, no override", "a.conf", "{}", nil, FormatJSON, "must have one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Verify(context.Background(), []byte(tc.text), Options{Path: tc.path, Format: tc.format, Env: func(string) (string, bool) { return "", false }})
			if tc.wantErr != "" {
				if len(res.Diagnostics) == 0 || !strings.Contains(res.Diagnostics[0].Message, tc.wantErr) {
					t.Errorf("diagnostics %+v, want %q", res.Diagnostics, tc.wantErr)
				}
				return
			}
			if res.Format != tc.want || res.HasErrors() {
				t.Errorf("format %v, diagnostics %+v; want %v without errors", res.Format, res.Diagnostics, tc.want)
			}
		})
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

// TestLogDestination follows the log_destination rule of both proxies:
// unset → a generated file in TMPDIR; a trailing separator or an existing
// directory → a generated file in it; anything else as written.
func TestLogDestination(t *testing.T) {
	dir := t.TempDir()
	opts := func(text string) Options {
		return Options{
			Path:      "c.json",
			Env:       func(k string) (string, bool) { return map[string]string{"TMPDIR": dir}[k], k == "TMPDIR" },
			GitBranch: func() (string, bool) { return "", false },
			Now:       func() time.Time { return time.Unix(1700000000, 0) },
			Random:    strings.NewReader(strings.Repeat("\xff\x00\x01", 20)),
		}
	}
	tests := []struct {
		name, file string
		get        func(c *Config) string
		want       string
	}{
		{"internal default", `{}`, func(c *Config) string { return c.IntProxy.LogDestination }, dir + "/mirrord-intproxy-1700000000-0101010.log"},
		{"external default", `{}`, func(c *Config) string { return c.ExtProxy.LogDestination }, dir + "/mirrord-extproxy-1700000000-0101010.log"},
		{"trailing separator", `{"internal_proxy": {"log_destination": "/logs/"}}`, func(c *Config) string { return c.IntProxy.LogDestination }, "/logs/mirrord-intproxy-1700000000-0101010.log"},
		{"existing directory", `{"external_proxy": {"log_destination": "` + dir + `"}}`, func(c *Config) string { return c.ExtProxy.LogDestination }, dir + "/mirrord-extproxy-1700000000-0101010.log"},
		{"file path", `{"internal_proxy": {"log_destination": "` + dir + `/ip.log"}}`, func(c *Config) string { return c.IntProxy.LogDestination }, dir + "/ip.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Verify(context.Background(), []byte(tt.file), opts(tt.file))
			if res.HasErrors() {
				t.Fatalf("errors: %+v", res.Errors())
			}
			if got := tt.get(res.Config); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Without hooks the name is random: PREFIX-<digits>-<7 alphanumerics>.log.
	res := Verify(context.Background(), []byte(`{}`), Options{Path: "c.json", Env: func(string) (string, bool) { return "", false }})
	if !regexp.MustCompile(`^/tmp/mirrord-intproxy-[0-9]+-[0-9A-Za-z]{7}\.log$`).MatchString(res.Config.IntProxy.LogDestination) {
		t.Errorf("generated name %q", res.Config.IntProxy.LogDestination)
	}
}

// TestResolvedJSONHidesToken: the agent token never appears in the JSON
// form of the resolved config (verify-config --resolved, MIRRORD_RESOLVED_CONFIG).
func TestResolvedJSONHidesToken(t *testing.T) {
	res := verifyText(t, "c.json", `{"target": "targetless", "agent": {"address": "127.0.0.1:1"}}`, map[string]string{"MIRRORD_AGENT_TOKEN": "s3cr3t-value"}, true)
	if res.HasErrors() {
		t.Fatal(res.Errors())
	}
	b, err := json.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cr3t-value") {
		t.Errorf("the token is in the resolved JSON: %s", b)
	}
	if !strings.Contains(string(b), `"address":"127.0.0.1:1"`) {
		t.Errorf("the address is missing from the resolved JSON: %s", b)
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the result, or "error: <substring>"
	}{
		{"127.0.0.1:61337", "127.0.0.1:61337"},
		{"[::1]:80", "[::1]:80"},
		{"[0:0::1]:80", "[::1]:80"},
		{"agent.tools.svc.cluster.local.:1", "agent.tools.svc.cluster.local.:1"},
		{"localhost:65535", "localhost:65535"},
		{"localhost", "error: missing `:PORT`"},
		{"localhost:", "error: missing port"},
		{":80", "error: missing HOST"},
		{"h:0", "error: out of range"},
		{"h:65536", "error: out of range"},
		{"h:+80", "error: not a number"},
		{"h:8a", "error: not a number"},
		{"::1:80", "error: in brackets"},
		{"[::1]", "error: missing `:PORT`"},
		{"[::1:80", "error: missing `]`"},
		{"[127.0.0.1]:80", "error: not an IPv6 address"},
		{"[fe80::1%eth0]:80", "error: not an IPv6 address"},
		{"a..b:80", "error: neither an IP address nor a host name"},
		{"-a:80", "error: neither"},
		{"a b:80", "error: neither"},
	}
	for _, tt := range tests {
		hp, err := ParseHostPort(tt.in)
		got := hp.String()
		if err != nil {
			got = "error: " + err.Error()
		}
		if strings.HasPrefix(tt.want, "error: ") {
			if err == nil || !strings.Contains(got, strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("ParseHostPort(%q) = %s, want %s", tt.in, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("ParseHostPort(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAgentImageTag(t *testing.T) {
	tests := []struct{ version, want string }{
		{"0.1.0-dev", "0.1.0-dev"},
		{"v1.2.3-4-gabcdef0-dirty", "v1.2.3-4-gabcdef0-dirty"},
		{"1.2.3+build.5", "1.2.3-build.5"},
		{".hidden", "_hidden"},
		{"-x", "_x"},
		{"a/b c", "a-b-c"},
		{"", "latest"},
		{strings.Repeat("9", 200), strings.Repeat("9", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			if got := AgentImageTag(tc.version); got != tc.want {
				t.Errorf("AgentImageTag(%q) = %q, want %q", tc.version, got, tc.want)
			}
		})
	}
}

// The schema shown to editors names this build's default agent image.
func TestSchemaDefaultAgentImage(t *testing.T) {
	var doc struct {
		Properties struct {
			Agent struct {
				Default struct {
					Image string `json:"image"`
				} `json:"default"`
			} `json:"agent"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Properties.Agent.Default.Image; got != DefaultAgentImageRef() {
		t.Errorf("schema default agent.image %q, want %q", got, DefaultAgentImageRef())
	}
	if bytes.Contains(JSONSchema(), []byte(defaultAgentImagePlaceholder)) {
		t.Errorf("the schema still contains the placeholder %s", defaultAgentImagePlaceholder)
	}
}
