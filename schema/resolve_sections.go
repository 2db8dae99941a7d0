package schema

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
)

// The resolved forms of the agent's pod settings and of the sections
// around the features (reference §1.3 and §1.8), each field with its
// default.

// Toleration is a Kubernetes toleration of the agent pod. Its JSON form is
// that of core/v1 Toleration, so it converts to corev1.Toleration with
// encoding/json.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// ResourceRequirements are the Kubernetes resources of the agent
// container, quantities as written (e.g. "100Mi", "1", "250m"). Its JSON
// form is that of core/v1 ResourceRequirements.
type ResourceRequirements struct {
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
	Claims   []ResourceClaim   `json:"claims,omitempty"`
}

// ResourceClaim is one entry of ResourceRequirements.Claims.
type ResourceClaim struct {
	Name    string `json:"name"`
	Request string `json:"request,omitempty"`
}

// DefaultAgentTolerations is the agent pod's toleration when the file sets
// none: tolerate every taint.
func DefaultAgentTolerations() []Toleration { return []Toleration{{Operator: "Exists"}} }

// DefaultAgentResources are the agent container's resources when the file
// sets none.
func DefaultAgentResources() ResourceRequirements {
	return ResourceRequirements{
		Requests: map[string]string{"cpu": "1m", "memory": "1Mi"},
		Limits:   map[string]string{"cpu": "1", "memory": "100Mi"},
	}
}

// AgentDNSConfig is agent.dns; nil means the resolver's default.
type AgentDNSConfig struct {
	Timeout  *uint32 `json:"timeout"`
	Attempts *uint32 `json:"attempts"`
}

// SecurityContextConfig is agent.security_context.
type SecurityContextConfig struct {
	AppArmorProfile *SecurityProfileConfig `json:"app_armor_profile"`
	SeccompProfile  *SecurityProfileConfig `json:"seccomp_profile"`
}

// SecurityProfileConfig is an AppArmor or seccomp profile.
type SecurityProfileConfig struct {
	Type             string  `json:"type"`
	LocalhostProfile *string `json:"localhost_profile"`
}

// ContainerConfig is `container` (settings of `mirrord container`).
type ContainerConfig struct {
	CliImage             string   `json:"cli_image"`
	CliExtraArgs         []string `json:"cli_extra_args"`
	CliPreventCleanup    bool     `json:"cli_prevent_cleanup"`
	CliImageLibPath      *string  `json:"cli_image_lib_path"`
	OverrideHostIP       *string  `json:"override_host_ip"`
	HostGatewayDetection bool     `json:"host_gateway_detection"`
	CliTLSPath           string   `json:"cli_tls_path"`
	Platform             *string  `json:"platform"`
}

// InternalProxyConfig is `internal_proxy`. Times are in seconds.
type InternalProxyConfig struct {
	StartIdleTimeout       uint64 `json:"start_idle_timeout"`
	IdleTimeout            uint64 `json:"idle_timeout"`
	SocketTimeout          uint64 `json:"socket_timeout"`
	PingInterval           uint64 `json:"ping_interval"`
	LogLevel               string `json:"log_level"`
	LogDestination         string `json:"log_destination"`
	JSONLog                bool   `json:"json_log"`
	ProcessLoggingInterval uint64 `json:"process_logging_interval"`
}

// StartIdle is how long the proxy waits for its first connection.
func (p InternalProxyConfig) StartIdle() time.Duration { return seconds(p.StartIdleTimeout) }

// Idle is how long the proxy lives after its last connection closed.
func (p InternalProxyConfig) Idle() time.Duration { return seconds(p.IdleTimeout) }

// ExternalProxyConfig is `external_proxy`. Times are in seconds.
type ExternalProxyConfig struct {
	TLSEnable        bool    `json:"tls_enable"`
	StartIdleTimeout uint64  `json:"start_idle_timeout"`
	IdleTimeout      uint64  `json:"idle_timeout"`
	LogLevel         string  `json:"log_level"`
	LogDestination   string  `json:"log_destination"`
	JSONLog          bool    `json:"json_log"`
	HostIP           *string `json:"host_ip"`
}

// ExperimentalConfig is `experimental`. DisableReuseaddr, GoAsmcgocall and
// GuardStdFds stay nil when unset: without the operator mirrord treats
// them as true.
type ExperimentalConfig struct {
	TCPPing4Mock                   bool          `json:"tcp_ping4_mock"`
	TrustAnyCertificate            bool          `json:"trust_any_certificate"`
	EnableExecHooksLinux           bool          `json:"enable_exec_hooks_linux"`
	HideIPv6Interfaces             bool          `json:"hide_ipv6_interfaces"`
	DisableReuseaddr               *bool         `json:"disable_reuseaddr"`
	UseDevNull                     bool          `json:"use_dev_null"`
	IdleLocalHTTPConnectionTimeout uint64        `json:"idle_local_http_connection_timeout"`
	IgnoreSystemProxyConfig        bool          `json:"ignore_system_proxy_config"`
	BrowserExtensionConfig         bool          `json:"browser_extension_config"`
	SipLogDestination              *string       `json:"sip_log_destination"`
	NonBlockingTCPConnect          bool          `json:"non_blocking_tcp_connect"`
	DlopenCgo                      bool          `json:"dlopen_cgo"`
	Latency                        LatencyConfig `json:"latency"`
	// Applev is reserved: nil, or {} when the file writes `applev: {}`.
	Applev       *struct{} `json:"applev"`
	SipUtils     bool      `json:"sip_utils"`
	GoAsmcgocall *bool     `json:"go_asmcgocall"`
	GuardStdFds  *bool     `json:"guard_std_fds"`
}

// LatencyConfig is experimental.latency (milliseconds).
type LatencyConfig struct {
	TransmitDelay uint64 `json:"transmit_delay"`
	ReceiveDelay  uint64 `json:"receive_delay"`
}

// CIConfig is `ci`. OutputDir nil means `mirrord ci`'s own default
// (/tmp/mirrord/).
type CIConfig struct {
	OutputDir *string `json:"output_dir"`
}

// JiraConfig is `jira`, a mirrord-ls extension: when Enabled, the time of
// each session is logged on the Jira issue whose key (IssueKeyPattern)
// appears in the git branch name. Credentials never come from the config:
// MIRRORD_JIRA_EMAIL + MIRRORD_JIRA_API_TOKEN, or MIRRORD_JIRA_BEARER_TOKEN.
type JiraConfig struct {
	Enabled         bool    `json:"enabled"`
	URL             *string `json:"url"`
	IssueKeyPattern string  `json:"issue_key_pattern"`
}

// Defaults of the sections above.
const (
	DefaultCLIImage           = "ghcr.io/metalbear-co/mirrord-cli:latest"
	DefaultCLITLSPath         = "/opt/mirrord/tls/mirrord-tls.pem"
	DefaultProxyLogLevel      = "mirrord=info,warn"
	DefaultJiraIssueKeyRegexp = `[A-Z][A-Z0-9]+-[0-9]+`
)

func seconds(s uint64) time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Second)
	if s > most {
		s = most
	}
	return time.Duration(s) * time.Second
}

// agentPod resolves the agent's pod settings and the agent address/token.
func (r *resolver) agentPod(fa *FileAgent, a *AgentConfig) {
	a.ImagePullSecrets = fa.ImagePullSecrets.Get(nil)
	a.DisabledCapabilities = fa.DisabledCapabilities.Get(nil)
	a.Tolerations = DefaultAgentTolerations()
	if fa.Tolerations.Set() {
		a.Tolerations = tolerationsOf(fa.Tolerations.Node)
	}
	a.Resources = DefaultAgentResources()
	if fa.Resources.Set() {
		a.Resources = resourcesOf(fa.Resources.Node)
	}
	a.CheckOutOfPods = fa.CheckOutOfPods.Get(true)
	a.Privileged = fa.Privileged.Get(false)
	a.Nftables = r.boolPtr("", fa.Nftables)
	if d := fa.DNS; d != nil {
		a.DNS.Timeout = optPtr(d.Timeout)
		a.DNS.Attempts = optPtr(d.Attempts)
	}
	a.Labels = fa.Labels.Get(nil)
	a.Annotations = fa.Annotations.Get(nil)
	a.NodeSelector = fa.NodeSelector.Get(nil)
	a.ServiceAccount = r.strPtr("", fa.ServiceAccount)
	a.PriorityClass = r.strPtr("", fa.PriorityClass)
	a.Metrics = r.strPtr("", fa.Metrics)
	a.InjectHeaders = fa.InjectHeaders.Get(false)
	a.OverrideCacheControl = fa.OverrideCacheControl.Get(true)
	a.MaxBodyBufferSize = fa.MaxBodyBufferSize.Get(65535)
	a.MaxBodyBufferTimeout = fa.MaxBodyBufferTimeout.Get(1000)
	if sc := fa.SecurityContext; sc != nil {
		a.SecurityContext = &SecurityContextConfig{AppArmorProfile: profileOf(sc.AppArmorProfile), SeccompProfile: profileOf(sc.SeccompProfile)}
	}
	a.DisableMeshSidecarInjection = fa.DisableMeshSidecarInjection.Get(true)
	a.JaqTimeLimit = fa.JaqTimeLimit.Get(1)

	if v, ok := r.opts.env("MIRRORD_AGENT_ADDRESS"); ok {
		if _, err := ParseHostPort(v); err != nil {
			r.envErr("MIRRORD_AGENT_ADDRESS", v, err.Error())
		}
		a.Address = &v
	} else if fa.Address.Set() {
		v := fa.Address.Value
		a.Address = &v
	}
	a.Token = r.strPtr("MIRRORD_AGENT_TOKEN", fa.Token)
}

func optPtr[T any](o Opt[T]) *T {
	if !o.Set() {
		return nil
	}
	v := o.Value
	return &v
}

func profileOf(p *FileSecurityProfile) *SecurityProfileConfig {
	if p == nil {
		return nil
	}
	return &SecurityProfileConfig{Type: p.Type.Value, LocalhostProfile: optPtr(p.LocalhostProfile)}
}

// tolerationsOf reads agent.tolerations. Unknown keys are ignored, as the
// Kubernetes types do; wrongly typed values are reported by the rules.
func tolerationsOf(n *Node) []Toleration {
	out := make([]Toleration, 0, len(n.Items))
	for _, it := range n.Items {
		var t Toleration
		for _, m := range it.Members {
			v := m.Value
			switch m.Key {
			case "key":
				t.Key = v.Str
			case "operator":
				t.Operator = v.Str
			case "value":
				t.Value = v.Str
			case "effect":
				t.Effect = v.Str
			case "tolerationSeconds":
				if s, ok := v.Int(); ok {
					t.TolerationSeconds = &s
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// resourcesOf reads agent.resources; a quantity written as a number keeps
// its literal (1 → "1").
func resourcesOf(n *Node) ResourceRequirements {
	var out ResourceRequirements
	quantities := func(v *Node) map[string]string {
		m := make(map[string]string, len(v.Members))
		for _, q := range v.Members {
			if q.Value.Kind == KindString || q.Value.Kind == KindNumber {
				m[q.Key] = q.Value.Str
			}
		}
		return m
	}
	for _, m := range n.Members {
		switch m.Key {
		case "limits":
			out.Limits = quantities(m.Value)
		case "requests":
			out.Requests = quantities(m.Value)
		case "claims":
			for _, it := range m.Value.Items {
				var c ResourceClaim
				if v, ok := it.Get("name"); ok {
					c.Name = v.Value.Str
				}
				if v, ok := it.Get("request"); ok {
					c.Request = v.Value.Str
				}
				out.Claims = append(out.Claims, c)
			}
		}
	}
	return out
}

// sections resolves container, the proxies, experimental, startup_retry,
// ci and jira.
func (r *resolver) sections(fc *FileConfig, c *Config) {
	ct := or(fc.Container)
	c.CLIContainer = ContainerConfig{
		CliImage:             ct.CliImage.Get(DefaultCLIImage),
		CliExtraArgs:         ct.CliExtraArgs.Get([]string{}),
		CliPreventCleanup:    ct.CliPreventCleanup.Get(false),
		CliImageLibPath:      optPtr(ct.CliImageLibPath),
		OverrideHostIP:       optPtr(ct.OverrideHostIP),
		HostGatewayDetection: ct.HostGatewayDetection.Get(true),
		CliTLSPath:           ct.CliTLSPath.Get(DefaultCLITLSPath),
		Platform:             optPtr(ct.Platform),
	}

	ip := or(fc.InternalProxy)
	c.IntProxy = InternalProxyConfig{
		StartIdleTimeout:       ip.StartIdleTimeout.Get(60),
		IdleTimeout:            ip.IdleTimeout.Get(5),
		SocketTimeout:          ip.SocketTimeout.Get(31536000),
		PingInterval:           ip.PingInterval.Get(30),
		LogLevel:               ip.LogLevel.Get(DefaultProxyLogLevel),
		LogDestination:         r.logDestination(ip.LogDestination, "mirrord-intproxy"),
		JSONLog:                ip.JSONLog.Get(true),
		ProcessLoggingInterval: ip.ProcessLoggingInterval.Get(60),
	}

	ep := or(fc.ExternalProxy)
	c.ExtProxy = ExternalProxyConfig{
		TLSEnable:        ep.TLSEnable.Get(true),
		StartIdleTimeout: ep.StartIdleTimeout.Get(60),
		IdleTimeout:      ep.IdleTimeout.Get(5),
		LogLevel:         ep.LogLevel.Get(DefaultProxyLogLevel),
		LogDestination:   r.logDestination(ep.LogDestination, "mirrord-extproxy"),
		JSONLog:          ep.JSONLog.Get(true),
		HostIP:           optPtr(ep.HostIP),
	}

	ex := or(fc.Experimental)
	lat := or(ex.Latency)
	c.Experiments = ExperimentalConfig{
		TCPPing4Mock:                   ex.TCPPing4Mock.Get(true),
		TrustAnyCertificate:            ex.TrustAnyCertificate.Get(false),
		EnableExecHooksLinux:           ex.EnableExecHooksLinux.Get(true),
		HideIPv6Interfaces:             ex.HideIPv6Interfaces.Get(false),
		DisableReuseaddr:               optPtr(ex.DisableReuseaddr),
		UseDevNull:                     ex.UseDevNull.Get(true),
		IdleLocalHTTPConnectionTimeout: ex.IdleLocalHTTPConnectionTimeout.Get(3000),
		IgnoreSystemProxyConfig:        ex.IgnoreSystemProxyConfig.Get(false),
		BrowserExtensionConfig:         ex.BrowserExtensionConfig.Get(false),
		SipLogDestination:              optPtr(ex.SipLogDestination),
		NonBlockingTCPConnect:          ex.NonBlockingTCPConnect.Get(true),
		DlopenCgo:                      ex.DlopenCgo.Get(false),
		Latency:                        LatencyConfig{TransmitDelay: lat.TransmitDelay.Get(0), ReceiveDelay: lat.ReceiveDelay.Get(0)},
		Applev:                         ex.Applev,
		SipUtils:                       ex.SipUtils.Get(true),
		GoAsmcgocall:                   optPtr(ex.GoAsmcgocall),
		GuardStdFds:                    optPtr(ex.GuardStdFds),
	}

	sr := or(fc.StartupRetry)
	c.StartupRetry = StartupRetry{MinMs: sr.MinMs.Get(500), MaxMs: sr.MaxMs.Get(5000), MaxRetries: sr.MaxRetries.Get(2)}

	c.CISettings = CIConfig{OutputDir: optPtr(or(fc.CI).OutputDir)}

	r.jira(fc.Jira, &c.Jira)
}

// jira resolves the jira section: environment > file > default, except
// the site: MIRRORD_JIRA_URL, which the file's url may only narrow. The
// section is enabled by default when MIRRORD_JIRA_URL is set; without it,
// only MIRRORD_JIRA_ENABLED can enable it (and then lacks a site).
func (r *resolver) jira(fj *FileJira, j *JiraConfig) {
	present := fj != nil
	fj = or(fj)
	// The site comes only from the user (the environment): the file,
	// which a repository may carry, can only narrow it (jirasite.Within); a
	// file url is never used alone (rules warn V-JIRA-SITE).
	site, hasSite := r.opts.env(jirasite.EnvURL)
	if hasSite {
		if err := checkJiraURL(site); err != nil {
			r.envErr(jirasite.EnvURL, site, err.Error())
		}
		j.URL = &site
		if fj.URL.Set() && jirasite.Within(site, fj.URL.Value) {
			j.URL = new(fj.URL.Value)
		}
		present = true
	}
	j.IssueKeyPattern = fj.IssueKeyPattern.Get(DefaultJiraIssueKeyRegexp)
	if v, ok := r.opts.env("MIRRORD_JIRA_ISSUE_KEY_PATTERN"); ok {
		if err := checkRE2(v); err != nil {
			r.envErr("MIRRORD_JIRA_ISSUE_KEY_PATTERN", v, err.Error())
		}
		j.IssueKeyPattern = v
	}
	j.Enabled = r.boolean("MIRRORD_JIRA_ENABLED", fj.Enabled, present)
	if _, forced := r.opts.env("MIRRORD_JIRA_ENABLED"); !hasSite && !forced {
		// Without the user's site the file cannot turn reporting on.
		j.Enabled = false
	}
}

// logDestination applies the log_destination rule of both proxies: unset
// → a generated file in the temporary directory; a path ending in a
// separator or naming an existing directory → a generated file in it.
func (r *resolver) logDestination(o Opt[string], prefix string) string {
	if !o.Set() {
		tmp, ok := r.opts.env("TMPDIR")
		if !ok || tmp == "" {
			tmp = "/tmp"
		}
		return filepath.Join(tmp, r.logFileName(prefix))
	}
	p := o.Value
	if p == "" {
		return p
	}
	if strings.HasSuffix(p, string(os.PathSeparator)) {
		return p + r.logFileName(prefix)
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, r.logFileName(prefix))
	}
	return p
}

// logFileName is PREFIX-<unix seconds>-<7 random alphanumerics>.log.
func (r *resolver) logFileName(prefix string) string {
	now := time.Now
	if r.opts.Now != nil {
		now = r.opts.Now
	}
	var src io.Reader = rand.Reader
	if r.opts.Random != nil {
		src = r.opts.Random
	}
	return prefix + "-" + strconv.FormatInt(now().Unix(), 10) + "-" + randomAlphanumeric(src, 7) + ".log"
}

// randomAlphanumeric draws n characters of [0-9A-Za-z] uniformly from src
// (rejection sampling); on a read error the rest is filled with '0'.
func randomAlphanumeric(src io.Reader, n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		k, err := src.Read(buf[:])
		for _, b := range buf[:k] {
			if b < 248 && len(out) < n { // 248 = 4 × 62: no modulo bias
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
		if err != nil || k == 0 {
			for len(out) < n {
				out = append(out, '0')
			}
		}
	}
	return string(out)
}

// checkJiraURL accepts an absolute http(s) URL with a host.
func checkJiraURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("expected an absolute http:// or https:// URL of the Jira site, such as https://example.atlassian.net")
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("the URL has no host; expected e.g. https://example.atlassian.net")
	}
	if u.User != nil {
		return fmt.Errorf("the URL must not contain credentials; set MIRRORD_JIRA_EMAIL and MIRRORD_JIRA_API_TOKEN, or MIRRORD_JIRA_BEARER_TOKEN")
	}
	return nil
}

// insecureJiraURL: a plain http site that is not a loopback address (the
// Jira reporter, session/jirasite.SiteURL, refuses to send credentials there).
func insecureJiraURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.Unmap().IsLoopback()
}

// checkRE2 compiles a pattern with Go's regexp (RE2 syntax), as the Jira
// reporter does.
func checkRE2(p string) error {
	if _, err := regexp.Compile(p); err != nil {
		return err
	}
	return nil
}
