package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
)

// Config is the resolved mirrord configuration: every field has its final
// value after environment → file → default (CLI flags arrive as
// environment overrides through Options.Env). It marshals to JSON in the
// shape of mirrord's resolved LayerConfig.
type Config struct {
	AcceptInvalidCertificates *bool        `json:"accept_invalid_certificates"`
	SkipProcesses             []string     `json:"skip_processes"`
	SkipBuildTools            bool         `json:"skip_build_tools"`
	SkipExtraBuildTools       []string     `json:"skip_extra_build_tools"`
	Operator                  *bool        `json:"operator"`
	MultiCluster              *bool        `json:"multi_cluster"`
	API                       bool         `json:"api"`
	Profile                   *string      `json:"profile"`
	Kubeconfig                *string      `json:"kubeconfig"`
	SipBinaries               []string     `json:"sip_binaries"`
	Telemetry                 bool         `json:"telemetry"`
	KubeContext               *string      `json:"kube_context"`
	UseProxy                  bool         `json:"use_proxy"`
	SkipSip                   []string     `json:"skip_sip"`
	Key                       string       `json:"key"`
	Traceparent               *string      `json:"traceparent"`
	Baggage                   *string      `json:"baggage"`
	Target                    TargetConfig `json:"target"`
	Agent                     AgentConfig  `json:"agent"`
	// CLIContainer is `container`: the settings of `mirrord container`.
	CLIContainer ContainerConfig `json:"container"`
	Feature      FeatureConfig   `json:"feature"`
	// IntProxy is `internal_proxy`.
	IntProxy InternalProxyConfig `json:"internal_proxy"`
	// ExtProxy is `external_proxy`.
	ExtProxy ExternalProxyConfig `json:"external_proxy"`
	// Experiments is `experimental`.
	Experiments  ExperimentalConfig `json:"experimental"`
	StartupRetry StartupRetry       `json:"startup_retry"`
	// CISettings is `ci`.
	CISettings CIConfig `json:"ci"`
	// Jira is `jira`, a mirrord-ls extension.
	Jira JiraConfig `json:"jira"`
	// LayerMode is `layer_mode` (mirrord-ls extension, env
	// MIRRORD_LAYER_MODE): how mirrord exec reaches a program's system
	// calls — auto, preload (LD_PRELOAD) or supervisor (seccomp).
	LayerMode string `json:"layer_mode"`

	// KeyGenerated is set when no key was configured and one was generated.
	KeyGenerated bool `json:"-"`
	// Targetless reports a targetless run: path "targetless", or no path
	// outside IDE mode.
	Targetless bool `json:"-"`
}

// TargetConfig is the resolved target.
type TargetConfig struct {
	Path      *targetpath.Target `json:"path"`
	Namespace *string            `json:"namespace"`
}

// AgentConfig is the resolved agent section: every field of reference
// §1.3 with its default, plus the mirrord-ls extensions address and token.
type AgentConfig struct {
	LogLevel             string            `json:"log_level"`
	JSONLog              bool              `json:"json_log"`
	Namespace            *string           `json:"namespace"`
	Image                string            `json:"image"`
	ImagePullPolicy      string            `json:"image_pull_policy"`
	ImagePullSecrets     []ImagePullSecret `json:"image_pull_secrets"`
	TTL                  uint16            `json:"ttl"`
	Ephemeral            bool              `json:"ephemeral"`
	CommunicationTimeout *uint16           `json:"communication_timeout"`
	StartupTimeout       uint64            `json:"startup_timeout"`
	FlushConnections     bool              `json:"flush_connections"`
	// DisabledCapabilities are Linux capabilities the agent must not use
	// (NET_ADMIN, SYS_PTRACE, SYS_ADMIN); not validated, as in mirrord.
	DisabledCapabilities []string `json:"disabled_capabilities"`
	// Tolerations of the agent pod; unset in the file means one toleration
	// with operator Exists (the runtime default, filled in here).
	Tolerations []Toleration `json:"tolerations"`
	// Resources of the agent container; unset in the file means requests
	// of 1m CPU / 1Mi memory and limits of 1 CPU / 100Mi (filled in here).
	Resources      ResourceRequirements `json:"resources"`
	CheckOutOfPods bool                 `json:"check_out_of_pods"`
	Privileged     bool                 `json:"privileged"`
	ExternalIPFix  bool                 `json:"external_ip_fix"`
	// Nftables nil means: detect at runtime.
	Nftables     *bool             `json:"nftables"`
	DNS          AgentDNSConfig    `json:"dns"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	NodeSelector map[string]string `json:"node_selector"`
	// ServiceAccount and PriorityClass nil mean the cluster's defaults.
	ServiceAccount *string `json:"service_account"`
	PriorityClass  *string `json:"priority_class"`
	// Metrics is the IP:port the agent serves metrics on; nil: none.
	Metrics                     *string                `json:"metrics"`
	ExcludeFromMesh             bool                   `json:"exclude_from_mesh"`
	InjectHeaders               bool                   `json:"inject_headers"`
	OverrideCacheControl        bool                   `json:"override_cache_control"`
	MaxBodyBufferSize           uint32                 `json:"max_body_buffer_size"`
	MaxBodyBufferTimeout        uint32                 `json:"max_body_buffer_timeout"`
	HTTPDetectionTimeout        uint64                 `json:"http_detection_timeout"`
	SecurityContext             *SecurityContextConfig `json:"security_context"`
	CleanIptablesOnStart        *bool                  `json:"clean_iptables_on_start"`
	DisableMeshSidecarInjection bool                   `json:"disable_mesh_sidecar_injection"`
	JaqTimeLimit                uint64                 `json:"jaq_time_limit"`
	// Address (mirrord-ls extension, env MIRRORD_AGENT_ADDRESS) is the
	// HOST:PORT of an agent that is already running; nil: create one.
	Address *string `json:"address"`
	// Token (mirrord-ls extension, env MIRRORD_AGENT_TOKEN) is the session
	// token of the agent at Address. It is a secret: it is never written
	// to JSON.
	Token *string `json:"-"`
}

// MarshalJSON prints the typed fields (never Token).
func (a AgentConfig) MarshalJSON() ([]byte, error) {
	type plain AgentConfig
	return json.Marshal(plain(a))
}

// FeatureConfig is the resolved feature section.
type FeatureConfig struct {
	Env        EnvConfig        `json:"env"`
	Fs         FsConfig         `json:"fs"`
	Network    NetworkConfig    `json:"network"`
	CopyTarget CopyTargetConfig `json:"copy_target"`
	Hostname   bool             `json:"hostname"`
	Magic      MagicConfig      `json:"magic"`
	Preview    PreviewConfig    `json:"preview"`
	// SplitQueues and DBBranches are the file's values, unchanged.
	SplitQueues any `json:"split_queues"`
	DBBranches  any `json:"db_branches"`
}

// EnvConfig is feature.env.
type EnvConfig struct {
	Include         []string          `json:"include"`
	Exclude         []string          `json:"exclude"`
	Override        map[string]string `json:"override"`
	LoadFromProcess *bool             `json:"load_from_process"`
	Unset           []string          `json:"unset"`
	EnvFile         *string           `json:"env_file"`
	Mapping         map[string]string `json:"mapping"`
}

// FsConfig is feature.fs.
type FsConfig struct {
	Mode               string            `json:"mode"`
	ReadWrite          []string          `json:"read_write"`
	ReadOnly           []string          `json:"read_only"`
	Local              []string          `json:"local"`
	NotFound           []string          `json:"not_found"`
	Mapping            map[string]string `json:"mapping"`
	ReadonlyFileBuffer uint64            `json:"readonly_file_buffer"`
}

// NetworkConfig is feature.network.
type NetworkConfig struct {
	IPv6     bool           `json:"ipv6"`
	Incoming IncomingConfig `json:"incoming"`
	Outgoing OutgoingConfig `json:"outgoing"`
	DNS      DNSConfig      `json:"dns"`
}

// IncomingConfig is feature.network.incoming.
type IncomingConfig struct {
	Mode              string           `json:"mode"`
	PortMapping       [][2]uint16      `json:"port_mapping"`
	ListenPorts       [][2]uint16      `json:"listen_ports"`
	IgnoreLocalhost   bool             `json:"ignore_localhost"`
	IgnorePorts       []uint16         `json:"ignore_ports"`
	Ports             []uint16         `json:"ports"`
	OnConcurrentSteal string           `json:"on_concurrent_steal"`
	HTTPFilter        HTTPFilterConfig `json:"http_filter"`
	TLSDelivery       any              `json:"tls_delivery"`
	HTTPSDelivery     any              `json:"https_delivery"`
}

// HTTPFilterConfig is incoming.http_filter.
type HTTPFilterConfig struct {
	HeaderFilter   *string  `json:"header_filter"`
	PathFilter     *string  `json:"path_filter"`
	MethodFilter   *string  `json:"method_filter"`
	HeaderFilterJq *string  `json:"header_filter_jq"`
	BodyFilter     any      `json:"body_filter"`
	AllOf          any      `json:"all_of"`
	AnyOf          any      `json:"any_of"`
	Ports          []uint16 `json:"ports"`
}

// AddressFilterConfig is an outgoing or DNS filter.
type AddressFilterConfig struct {
	Remote []string `json:"remote,omitempty"`
	Local  []string `json:"local,omitempty"`
}

// OutgoingConfig is feature.network.outgoing.
type OutgoingConfig struct {
	TCP             bool                 `json:"tcp"`
	UDP             bool                 `json:"udp"`
	IgnoreLocalhost bool                 `json:"ignore_localhost"`
	Filter          *AddressFilterConfig `json:"filter"`
	UnixStreams     []string             `json:"unix_streams"`
}

// DNSConfig is feature.network.dns.
type DNSConfig struct {
	Enabled bool                 `json:"enabled"`
	Filter  *AddressFilterConfig `json:"filter"`
}

// CopyTargetConfig is feature.copy_target.
type CopyTargetConfig struct {
	Enabled               bool     `json:"enabled"`
	ScaleDown             bool     `json:"scale_down"`
	ExcludeContainers     []string `json:"exclude_containers"`
	ExcludeInitContainers []string `json:"exclude_init_containers"`
}

// MagicConfig is feature.magic.
type MagicConfig struct {
	AWS       bool `json:"aws"`
	AutoMount bool `json:"auto_mount"`
	Turbo     bool `json:"turbo"`
}

// PreviewConfig is feature.preview.
type PreviewConfig struct {
	Image               *string `json:"image"`
	TTLSecs             *uint64 `json:"ttl_secs"`
	TTLInfinite         bool    `json:"ttl_infinite"`
	CreationTimeoutSecs uint64  `json:"creation_timeout_secs"`
	Replicas            int32   `json:"replicas"`
	StartIdle           bool    `json:"start_idle"`
	SleepAfterSecs      *uint64 `json:"sleep_after_secs"`
	WakeTimeoutSecs     *uint64 `json:"wake_timeout_secs"`
}

// StartupRetry is startup_retry.
type StartupRetry struct {
	MinMs      uint64 `json:"min_ms"`
	MaxMs      uint64 `json:"max_ms"`
	MaxRetries uint32 `json:"max_retries"`
}

// DefaultAgentImage is the repository of the agent image used when neither
// the file nor the environment names one: the project's own agent
// (`make agent-image`, docs/cluster.md), tagged DefaultAgentImageTag().
// The official mirrord agent speaks another protocol.
const DefaultAgentImage = "ghcr.io/mirrord-ls/mirrord-agent"

// DefaultAgentImageTag is the tag of the default agent image: this build's
// version, so that a CLI runs the agent it was built with.
func DefaultAgentImageTag() string { return AgentImageTag(version.Version) }

// DefaultAgentImageRef is DefaultAgentImage:DefaultAgentImageTag().
func DefaultAgentImageRef() string { return DefaultAgentImage + ":" + DefaultAgentImageTag() }

// AgentImageTag turns a version string into a valid image tag
// ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}): other characters (such as the "+"
// of semver build metadata) become "-", a leading "." or "-" becomes "_",
// and an empty version gives "latest".
func AgentImageTag(v string) string {
	if v == "" {
		return "latest"
	}
	b := []byte(v)
	if len(b) > 128 {
		b = b[:128]
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	if b[0] == '.' || b[0] == '-' {
		b[0] = '_'
	}
	return string(b)
}

// resolver applies environment → file → default for one config.
type resolver struct {
	opts *Options
	out  []finding
}

func (r *resolver) envErr(name, val, why string) {
	r.out = append(r.out, finding{
		Severity: SeverityError, Code: "C-ENV-PARSE", Stage: StageEnv, NoSpan: true,
		Message: fmt.Sprintf("invalid %s value `%s`: %s", name, val, why),
	})
}

func (r *resolver) str(name string, file Opt[string], def string) string {
	if v, ok := r.opts.env(name); ok && name != "" {
		return v
	}
	return file.Get(def)
}

func (r *resolver) strPtr(name string, file Opt[string]) *string {
	if name != "" {
		if v, ok := r.opts.env(name); ok {
			return &v
		}
	}
	if file.Set() {
		v := file.Value
		return &v
	}
	return nil
}

// envBool reads a boolean variable: only `true` and `false` are accepted,
// as Rust's bool parsing does.
func (r *resolver) envBool(name string) (bool, bool) {
	if name == "" {
		return false, false
	}
	v, ok := r.opts.env(name)
	if !ok {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	r.envErr(name, v, "provided string was not `true` or `false`")
	return false, false
}

func (r *resolver) boolean(name string, file Opt[bool], def bool) bool {
	if v, ok := r.envBool(name); ok {
		return v
	}
	return file.Get(def)
}

func (r *resolver) boolPtr(name string, file Opt[bool]) *bool {
	if v, ok := r.envBool(name); ok {
		return &v
	}
	if file.Set() {
		v := file.Value
		return &v
	}
	return nil
}

func (r *resolver) envUint(name string, bits int) (uint64, bool) {
	if name == "" {
		return 0, false
	}
	v, ok := r.opts.env(name)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		r.envErr(name, v, fmt.Sprintf("expected an integer from 0 to %d", uint64(1<<bits-1)))
		return 0, false
	}
	return u, true
}

func uintOr[T uint16 | uint32 | uint64](r *resolver, name string, file Opt[T], def T) T {
	var z T
	bits := 64
	switch any(z).(type) {
	case uint16:
		bits = 16
	case uint32:
		bits = 32
	}
	if v, ok := r.envUint(name, bits); ok {
		return T(v)
	}
	return file.Get(def)
}

func (r *resolver) strs(name string, file Opt[Strings]) []string {
	if name != "" {
		if v, ok := r.opts.env(name); ok {
			return splitList(v)
		}
	}
	if file.Set() {
		return []string(file.Value)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ";") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func resolve(fc *FileConfig, key string, opts *Options) (*Config, []finding) {
	r := &resolver{opts: opts}
	c := &Config{}
	c.AcceptInvalidCertificates = r.boolPtr("MIRRORD_ACCEPT_INVALID_CERTIFICATES", fc.AcceptInvalidCertificates)
	c.SkipProcesses = r.strs("MIRRORD_SKIP_PROCESSES", fc.SkipProcesses)
	c.SkipBuildTools = r.boolean("MIRRORD_SKIP_BUILD_TOOLS", fc.SkipBuildTools, true)
	c.SkipExtraBuildTools = r.strs("MIRRORD_SKIP_EXTRA_BUILD_TOOLS", fc.SkipExtraBuildTools)
	c.Operator = r.boolPtr("MIRRORD_OPERATOR_ENABLE", fc.Operator)
	c.MultiCluster = r.boolPtr("MIRRORD_MULTI_CLUSTER", fc.MultiCluster)
	c.API = r.boolean("MIRRORD_API", fc.API, true)
	c.Profile = r.strPtr("", fc.Profile)
	c.Kubeconfig = r.strPtr("MIRRORD_KUBECONFIG", fc.Kubeconfig)
	c.SipBinaries = r.strs("", fc.SipBinaries)
	c.Telemetry = r.boolean("MIRRORD_TELEMETRY", fc.Telemetry, true)
	c.KubeContext = r.strPtr("MIRRORD_KUBE_CONTEXT", fc.KubeContext)
	c.UseProxy = r.boolean("MIRRORD_PROXY", fc.UseProxy, true)
	c.SkipSip = r.strs("MIRRORD_SKIP_SIP", fc.SkipSip)
	if c.SkipSip == nil {
		c.SkipSip = []string{"git"}
	}
	c.Key = strings.TrimPrefix(key, autoKeyPrefix)
	c.KeyGenerated = strings.HasPrefix(key, autoKeyPrefix)
	c.Traceparent = r.strPtr("TRACEPARENT", fc.Traceparent)
	c.Baggage = r.strPtr("BAGGAGE", fc.Baggage)
	c.LayerMode = r.str("MIRRORD_LAYER_MODE", fc.LayerMode, "auto")
	r.target(fc, c)
	r.agent(fc.Agent, c)
	r.feature(fc.Feature, c)
	r.sections(fc, c)
	return c, r.out
}

func (r *resolver) target(fc *FileConfig, c *Config) {
	ft := fc.Target
	// written: a target was given, even one that failed to parse (its own
	// error is reported); only a missing target can mean targetless.
	written := ft.Path.Set() || ft.Object != nil
	if v, ok := r.opts.env("MIRRORD_IMPERSONATED_TARGET"); ok {
		written = true
		t, err := targetpath.Parse(v)
		if err != nil {
			r.envErr("MIRRORD_IMPERSONATED_TARGET", v, err.Error())
		} else {
			c.Target.Path = &t
		}
	} else if ft.Path.Set() {
		if t, err := targetpath.Parse(ft.Path.Value); err == nil {
			c.Target.Path = &t
		}
	} else if ft.Object != nil {
		if t, ok := ft.Object.target(); ok {
			c.Target.Path = &t
		}
	}
	var ns Opt[string]
	if ft.Advanced != nil {
		ns = ft.Advanced.Namespace
	}
	c.Target.Namespace = r.strPtr("MIRRORD_TARGET_NAMESPACE", ns)
	if c.Target.Path == nil {
		c.Targetless = !written && !r.opts.IDE
	} else {
		c.Targetless = c.Target.Path.Kind == targetpath.Targetless
	}
}

// target converts the object form; ok is false when it has no kind key.
func (o *FileTargetObject) target() (targetpath.Target, bool) {
	c := o.Container.Get("")
	for _, kv := range []struct {
		kind targetpath.Kind
		v    Opt[string]
	}{{targetpath.Pod, o.Pod}, {targetpath.Deployment, o.Deployment}, {targetpath.Rollout, o.Rollout}, {targetpath.Job, o.Job},
		{targetpath.CronJob, o.CronJob}, {targetpath.StatefulSet, o.StatefulSet}, {targetpath.Service, o.Service}, {targetpath.ReplicaSet, o.ReplicaSet}} {
		if kv.v.Set() {
			return targetpath.Target{Kind: kv.kind, Name: kv.v.Value, Container: c}, true
		}
	}
	if o.Labels.Set() {
		return targetpath.NewLabel(o.Labels.Value, c), true
	}
	return targetpath.Target{}, false
}

func (r *resolver) agent(fa *FileAgent, c *Config) {
	if fa == nil {
		fa = &FileAgent{}
	}
	a := &c.Agent
	a.LogLevel = r.str("MIRRORD_AGENT_RUST_LOG", fa.LogLevel, "info")
	a.JSONLog = r.boolean("MIRRORD_AGENT_JSON_LOG", fa.JSONLog, false)
	a.Namespace = r.strPtr("MIRRORD_AGENT_NAMESPACE", fa.Namespace)
	// Image: MIRRORD_AGENT_IMAGE wins; then the file's string or
	// registry/tag; missing parts from MIRRORD_AGENT_IMAGE_REGISTRY/_TAG;
	// then the defaults.
	if v, ok := r.opts.env("MIRRORD_AGENT_IMAGE"); ok {
		a.Image = v
	} else if fa.Image.Str.Set() {
		a.Image = fa.Image.Str.Value
	} else {
		reg, _ := r.opts.env("MIRRORD_AGENT_IMAGE_REGISTRY")
		tag, _ := r.opts.env("MIRRORD_AGENT_IMAGE_TAG")
		if o := fa.Image.Obj; o != nil {
			reg = o.Registry.Get(reg)
			tag = o.Tag.Get(tag)
		}
		if reg == "" {
			reg = DefaultAgentImage
		}
		if tag == "" {
			tag = DefaultAgentImageTag()
		}
		a.Image = reg + ":" + tag
	}
	a.ImagePullPolicy = r.str("MIRRORD_AGENT_IMAGE_PULL_POLICY", fa.ImagePullPolicy, "IfNotPresent")
	a.TTL = uintOr(r, "MIRRORD_AGENT_TTL", fa.TTL, 1)
	a.Ephemeral = r.boolean("MIRRORD_EPHEMERAL_CONTAINER", fa.Ephemeral, false)
	if v, ok := r.envUint("MIRRORD_AGENT_COMMUNICATION_TIMEOUT", 16); ok {
		t := uint16(v)
		a.CommunicationTimeout = &t
	} else if fa.CommunicationTimeout.Set() {
		t := fa.CommunicationTimeout.Value
		a.CommunicationTimeout = &t
	}
	a.StartupTimeout = uintOr(r, "MIRRORD_AGENT_STARTUP_TIMEOUT", fa.StartupTimeout, 60)
	a.FlushConnections = r.boolean("MIRRORD_AGENT_STEALER_FLUSH_CONNECTIONS", fa.FlushConnections, true)
	a.ExternalIPFix = r.boolean("MIRRORD_AGENT_EXTERNAL_IP_FIX", fa.ExternalIPFix, true)
	a.ExcludeFromMesh = r.boolean("MIRRORD_AGENT_EXCLUDE_FROM_MESH", fa.ExcludeFromMesh, false)
	a.HTTPDetectionTimeout = uintOr(r, "MIRRORD_AGENT_HTTP_DETECTION_TIMEOUT", fa.HTTPDetectionTimeout, 2)
	a.CleanIptablesOnStart = r.boolPtr("MIRRORD_AGENT_CLEAN_IPTABLES_ON_START", fa.CleanIptablesOnStart)
	r.agentPod(fa, a)
}

func (r *resolver) feature(ff *FileFeature, c *Config) {
	if ff == nil {
		ff = &FileFeature{}
	}
	f := &c.Feature
	r.env(ff.Env, &f.Env)
	r.fs(ff.Fs, &f.Fs)
	r.network(ff.Network, &f.Network)
	switch {
	case ff.CopyTarget.Bool != nil:
		f.CopyTarget.Enabled = *ff.CopyTarget.Bool
	case ff.CopyTarget.Obj != nil:
		o := ff.CopyTarget.Obj
		f.CopyTarget = CopyTargetConfig{Enabled: o.Enabled.Get(true), ScaleDown: o.ScaleDown.Get(false),
			ExcludeContainers: o.ExcludeContainers.Get(nil), ExcludeInitContainers: o.ExcludeInitContainers.Get(nil)}
	}
	f.Hostname = ff.Hostname.Get(true)
	m := ff.Magic
	if m == nil {
		m = &FileMagic{}
	}
	f.Magic = MagicConfig{AWS: m.AWS.Get(true), AutoMount: m.AutoMount.Get(true), Turbo: m.Turbo.Get(true)}
	r.preview(ff.Preview, &f.Preview)
	if ff.SplitQueues.Node != nil && ff.SplitQueues.Node.Kind != KindNull {
		f.SplitQueues = ff.SplitQueues.Node.Any()
	}
	if ff.DBBranches.Set() {
		f.DBBranches = ff.DBBranches.Node.Any()
	}
	// apply_magic: the AWS magic unsets AWS_PROFILE and maps ~/.aws to a
	// directory under $TMPDIR.
	if f.Magic.AWS {
		f.Env.Unset = append(f.Env.Unset, "AWS_PROFILE")
		if home, ok := r.opts.env("HOME"); ok && home != "" {
			tmp, ok := r.opts.env("TMPDIR")
			if !ok || tmp == "" {
				tmp = "/tmp"
			}
			if f.Fs.Mapping == nil {
				f.Fs.Mapping = map[string]string{}
			}
			f.Fs.Mapping["^"+regexp.QuoteMeta(strings.TrimSuffix(home, "/"))+`/\.aws(/.*)?`] = strings.TrimSuffix(tmp, "/") + "/.aws$1"
		}
	}
}

func (r *resolver) env(t Toggle[FileEnv], e *EnvConfig) {
	o := t.Obj
	if o == nil {
		o = &FileEnv{}
	}
	e.Include = r.strs("MIRRORD_OVERRIDE_ENV_VARS_INCLUDE", o.Include)
	e.Exclude = r.strs("MIRRORD_OVERRIDE_ENV_VARS_EXCLUDE", o.Exclude)
	if t.Bool != nil && !*t.Bool && e.Include == nil && e.Exclude == nil {
		e.Exclude = []string{"*"}
	}
	e.Override = o.Override.Get(nil)
	e.LoadFromProcess = r.boolPtr("MIRRORD_ENV_LOAD_FROM_PROCESS", o.LoadFromProcess)
	e.Unset = r.strs("", o.Unset)
	e.EnvFile = r.strPtr("MIRRORD_OVERRIDE_ENV_VARS_FILE", o.EnvFile)
	e.Mapping = o.Mapping.Get(nil)
}

func (r *resolver) fs(f FileFsField, out *FsConfig) {
	o := f.Obj
	if o == nil {
		o = &FileFs{}
	}
	mode := "read"
	switch {
	case f.Bool != nil && *f.Bool:
		mode = "read"
	case f.Bool != nil:
		mode = "local"
	case f.Mode.Set():
		mode = f.Mode.Value
	case o.Mode.Set():
		mode = o.Mode.Value
	}
	if v, ok := r.opts.env("MIRRORD_FILE_MODE"); ok {
		switch v {
		case "read", "write", "local", "localwithoverrides":
			mode = v
		default:
			r.envErr("MIRRORD_FILE_MODE", v, "expected one of read, write, local, localwithoverrides")
		}
	} else {
		ops, opsSet := r.envBool("MIRRORD_FILE_OPS")
		ro, roSet := r.envBool("MIRRORD_FILE_RO_OPS")
		switch {
		case opsSet && ops:
			mode = "write"
		case roSet && ro:
			mode = "read"
		case opsSet || roSet:
			mode = "local"
		}
	}
	out.Mode = mode
	out.ReadWrite = r.strs("MIRRORD_FILE_READ_WRITE_PATTERN", o.ReadWrite)
	roName := "MIRRORD_FILE_READ_ONLY_PATTERN"
	if f.Obj != nil {
		roName = "" // mirrord ignores the variable for the object form
	}
	out.ReadOnly = r.strs(roName, o.ReadOnly)
	out.Local = r.strs("MIRRORD_FILE_LOCAL_PATTERN", o.Local)
	out.NotFound = r.strs("", o.NotFound)
	out.Mapping = o.Mapping.Get(nil)
	out.ReadonlyFileBuffer = o.ReadonlyFileBuffer.Get(128000)
}

func (r *resolver) network(t Toggle[FileNetwork], n *NetworkConfig) {
	o := t.Obj
	off := t.Bool != nil && !*t.Bool
	if o == nil {
		o = &FileNetwork{}
	}
	n.IPv6 = r.boolean("MIRRORD_ENABLE_IPV6", o.IPv6, true)

	// incoming
	in := &n.Incoming
	io := o.Incoming.Obj
	if io == nil {
		io = &FileIncoming{}
	}
	in.Mode = "mirror"
	switch {
	case off:
		in.Mode = "off"
	case o.Incoming.Bool != nil && !*o.Incoming.Bool:
		in.Mode = "off"
	case o.Incoming.Mode.Set():
		in.Mode = o.Incoming.Mode.Value
	case io.Mode.Set():
		in.Mode = io.Mode.Value
	}
	if v, ok := r.opts.env("MIRRORD_AGENT_TCP_STEAL_TRAFFIC"); ok {
		switch v {
		case "true":
			in.Mode = "steal"
		case "false":
			in.Mode = "off"
		case "mirror", "steal", "off":
			in.Mode = v
		default:
			r.envErr("MIRRORD_AGENT_TCP_STEAL_TRAFFIC", v, "expected true, false, mirror, steal or off")
		}
	}
	in.PortMapping = io.PortMapping.Get(nil)
	in.ListenPorts = io.ListenPorts.Get(nil)
	in.IgnoreLocalhost = io.IgnoreLocalhost.Get(false)
	in.IgnorePorts = io.IgnorePorts.Get(nil)
	in.Ports = io.Ports.Get(nil)
	in.OnConcurrentSteal = r.str("MIRRORD_OPERATOR_ON_CONCURRENT_STEAL", io.OnConcurrentSteal, "abort")
	if io.TLSDelivery != nil {
		in.TLSDelivery = io.TLSDelivery.Node.Any()
	}
	if io.HTTPSDelivery != nil {
		in.HTTPSDelivery = io.HTTPSDelivery.Node.Any()
	}
	hf := io.HTTPFilter.Obj
	if hf == nil {
		hf = &FileHTTPFilter{}
	}
	h := &in.HTTPFilter
	h.HeaderFilter = r.strPtr("MIRRORD_HTTP_HEADER_FILTER", hf.HeaderFilter)
	h.PathFilter = r.strPtr("MIRRORD_HTTP_PATH_FILTER", hf.PathFilter)
	h.MethodFilter = r.strPtr("MIRRORD_HTTP_METHOD_FILTER", hf.MethodFilter)
	h.HeaderFilterJq = r.strPtr("MIRRORD_HTTP_HEADER_FILTER_JQ", hf.HeaderFilterJq)
	if hf.BodyFilter.Set() {
		h.BodyFilter = hf.BodyFilter.Node.Any()
	}
	if hf.AllOf.Set() {
		h.AllOf = hf.AllOf.Node.Any()
	}
	if hf.AnyOf.Set() {
		h.AnyOf = hf.AnyOf.Node.Any()
	}
	if v, ok := r.opts.env("MIRRORD_HTTP_FILTER_PORTS"); ok {
		for _, p := range splitList(strings.ReplaceAll(v, ",", ";")) {
			u, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil {
				r.envErr("MIRRORD_HTTP_FILTER_PORTS", v, "expected ports from 0 to 65535")
				break
			}
			h.Ports = append(h.Ports, uint16(u))
		}
	} else if hf.Ports.Set() {
		h.Ports = hf.Ports.Value
	}

	// outgoing
	oo := o.Outgoing.Obj
	if oo == nil {
		oo = &FileOutgoing{}
	}
	outOff := off || (o.Outgoing.Bool != nil && !*o.Outgoing.Bool)
	out := &n.Outgoing
	out.TCP = r.boolean("MIRRORD_TCP_OUTGOING", oo.TCP, !outOff)
	out.UDP = r.boolean("MIRRORD_UDP_OUTGOING", oo.UDP, !outOff)
	out.IgnoreLocalhost = oo.IgnoreLocalhost.Get(false)
	out.Filter = addressFilter(oo.Filter)
	out.UnixStreams = r.strs("MIRRORD_OUTGOING_REMOTE_UNIX_STREAMS", oo.UnixStreams)

	// dns
	do := o.DNS.Obj
	if do == nil {
		do = &FileDNS{}
	}
	dnsOff := off || (o.DNS.Bool != nil && !*o.DNS.Bool)
	n.DNS.Enabled = r.boolean("MIRRORD_REMOTE_DNS", do.Enabled, !dnsOff)
	n.DNS.Filter = addressFilter(do.Filter)
	reflectOutgoingInDNS(n)
}

func addressFilter(f *FileAddressFilter) *AddressFilterConfig {
	if f == nil || (!f.Remote.Set() && !f.Local.Set()) {
		return nil
	}
	return &AddressFilterConfig{Remote: f.Remote.Get(nil), Local: f.Local.Get(nil)}
}

func (r *resolver) preview(fp *FilePreview, p *PreviewConfig) {
	if fp == nil {
		fp = &FilePreview{}
	}
	p.Image = r.strPtr("MIRRORD_PREVIEW_IMAGE", fp.Image)
	if v, ok := r.envUint("MIRRORD_PREVIEW_TTL_SECS", 64); ok {
		p.TTLSecs = &v
	} else if v, ok := r.envUint("MIRRORD_PREVIEW_TTL_MINS", 64); ok {
		s := v * 60
		p.TTLSecs = &s
	} else if fp.TTLSecs.Set() {
		p.TTLInfinite = fp.TTLSecs.Infinite
		v := fp.TTLSecs.Value
		p.TTLSecs = &v
	} else if fp.TTLMins.Set() {
		p.TTLInfinite = fp.TTLMins.Infinite
		v := fp.TTLMins.Value * 60
		p.TTLSecs = &v
	} else {
		v := uint64(3600)
		p.TTLSecs = &v
	}
	if p.TTLInfinite {
		p.TTLSecs = nil
	}
	p.CreationTimeoutSecs = uintOr(r, "MIRRORD_PREVIEW_CREATION_TIMEOUT_SECS", fp.CreationTimeoutSecs, 60)
	p.Replicas = fp.Replicas.Get(1)
	if v, ok := r.opts.env("MIRRORD_PREVIEW_REPLICAS"); ok {
		i, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			r.envErr("MIRRORD_PREVIEW_REPLICAS", v, "expected a 32-bit integer")
		} else {
			p.Replicas = int32(i)
		}
	}
	idle := fp.Idle
	if idle == nil {
		idle = &FilePreviewIdle{}
	}
	p.StartIdle = r.boolean("MIRRORD_PREVIEW_START_IDLE", idle.StartIdle, false)
	if v, ok := r.envUint("MIRRORD_PREVIEW_IDLE_SLEEP_AFTER_SECS", 64); ok {
		p.SleepAfterSecs = &v
	} else if idle.SleepAfterSecs.Set() {
		v := idle.SleepAfterSecs.Value
		p.SleepAfterSecs = &v
	}
	if v, ok := r.envUint("MIRRORD_PREVIEW_IDLE_WAKE_TIMEOUT_SECS", 64); ok {
		p.WakeTimeoutSecs = &v
	} else if idle.WakeTimeoutSecs.Set() {
		v := idle.WakeTimeoutSecs.Value
		p.WakeTimeoutSecs = &v
	}
}
