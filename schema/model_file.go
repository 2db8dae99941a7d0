package schema

// The file model: one Go type per object of the config file, every field
// optional, every value remembering its node (and so its JSON pointer and
// source span). Shorthand forms are union types that decode themselves.
// Struct fields are named by their json tag; union types mark the struct
// of their object form with the `variant:"object"` tag (the schema test
// walks both the Go types and the JSON Schema through these tags).

// Opt is an optional value of the file.
type Opt[T any] struct {
	Value T
	Node  *Node
	Ptr   string
}

// Set reports whether the file gives the value (null counts as unset, as
// for mirrord's Option fields).
func (o Opt[T]) Set() bool { return o.Node != nil && o.Node.Kind != KindNull }

// Get returns the value when set, else def.
func (o Opt[T]) Get(def T) T {
	if o.Set() {
		return o.Value
	}
	return def
}

func (o *Opt[T]) decodeNode(d *decoder, n *Node, ptr string) {
	o.Node, o.Ptr = n, ptr
	if n.Kind == KindNull {
		return
	}
	before := len(d.bad)
	d.value(refOf(&o.Value), n, ptr)
	if len(d.bad) > before {
		o.Node = nil // unusable value: treat as unset
	}
}

// Strings is mirrord's VecOrSingle<String>: a string or a list of strings.
type Strings []string

func (s *Strings) decodeNode(d *decoder, n *Node, ptr string) {
	switch n.Kind {
	case KindNull:
	case KindString:
		*s = Strings{n.Str}
	case KindArray:
		out := make(Strings, 0, len(n.Items))
		for i, it := range n.Items {
			if it.Kind != KindString {
				d.mismatch(it, PointerIndex(ptr, i), "a string")
				continue
			}
			out = append(out, it.Str)
		}
		*s = out
	default:
		d.mismatch(n, ptr, "a string or a list of strings")
	}
}

// Ports is VecOrSingle<u16>.
type Ports []uint16

func (p *Ports) decodeNode(d *decoder, n *Node, ptr string) {
	var one uint16
	switch n.Kind {
	case KindNull:
	case KindNumber:
		d.value(refOf(&one), n, ptr)
		*p = Ports{one}
	case KindArray:
		var out []uint16
		d.value(refOf(&out), n, ptr)
		*p = out
	default:
		d.mismatch(n, ptr, "a port or a list of ports")
	}
}

// Toggle is a section that may be given as a boolean or as an object.
type Toggle[T any] struct {
	Node *Node
	Ptr  string
	Bool *bool
	Obj  *T `variant:"object"`
}

func (t *Toggle[T]) decodeNode(d *decoder, n *Node, ptr string) {
	t.Node, t.Ptr = n, ptr
	switch n.Kind {
	case KindNull:
	case KindBool:
		b := n.Bool
		t.Bool = &b
	case KindObject:
		t.Obj = new(T)
		d.value(refOf(t.Obj), n, ptr)
	default:
		d.mismatch(n, ptr, "a boolean or an object")
	}
}

// ModeToggle is a section written as a boolean, a mode string or an
// object (feature.fs, feature.network.incoming).
type ModeToggle[T any] struct {
	Node *Node
	Ptr  string
	Bool *bool
	Mode Opt[string]
	Obj  *T `variant:"object"`
}

func (t *ModeToggle[T]) decodeNode(d *decoder, n *Node, ptr string) {
	t.Node, t.Ptr = n, ptr
	switch n.Kind {
	case KindNull:
	case KindBool:
		b := n.Bool
		t.Bool = &b
	case KindString:
		t.Mode.decodeNode(d, n, ptr)
	case KindObject:
		t.Obj = new(T)
		d.value(refOf(t.Obj), n, ptr)
	default:
		d.mismatch(n, ptr, "a boolean, a mode string or an object")
	}
}

// FileConfig is the root of the config file.
type FileConfig struct {
	AcceptInvalidCertificates Opt[bool]         `json:"accept_invalid_certificates"`
	SkipProcesses             Opt[Strings]      `json:"skip_processes"`
	SkipBuildTools            Opt[bool]         `json:"skip_build_tools"`
	SkipExtraBuildTools       Opt[Strings]      `json:"skip_extra_build_tools"`
	Operator                  Opt[bool]         `json:"operator"`
	MultiCluster              Opt[bool]         `json:"multi_cluster"`
	API                       Opt[bool]         `json:"api"`
	Profile                   Opt[string]       `json:"profile"`
	Kubeconfig                Opt[string]       `json:"kubeconfig"`
	SipBinaries               Opt[Strings]      `json:"sip_binaries"`
	Telemetry                 Opt[bool]         `json:"telemetry"`
	KubeContext               Opt[string]       `json:"kube_context"`
	UseProxy                  Opt[bool]         `json:"use_proxy"`
	SkipSip                   Opt[Strings]      `json:"skip_sip"`
	Key                       Opt[string]       `json:"key"`
	Traceparent               Opt[string]       `json:"traceparent"`
	Baggage                   Opt[string]       `json:"baggage"`
	Target                    FileTarget        `json:"target"`
	Agent                     *FileAgent        `json:"agent"`
	Container                 *FileContainer    `json:"container"`
	Feature                   *FileFeature      `json:"feature"`
	InternalProxy             *FileIntProxy     `json:"internal_proxy"`
	ExternalProxy             *FileExtProxy     `json:"external_proxy"`
	Experimental              *FileExperimental `json:"experimental"`
	StartupRetry              *FileStartupRetry `json:"startup_retry"`
	CI                        *FileCI           `json:"ci"`
	// Jira is a mirrord-ls extension (not in mirrord).
	Jira *FileJira `json:"jira"`
	// LayerMode is a mirrord-ls extension: auto, preload or supervisor.
	LayerMode Opt[string] `json:"layer_mode"`
}

// FileTarget is `target` in any of its forms: a path string, a target
// object, or {path, namespace}.
type FileTarget struct {
	Node *Node
	Ptr  string
	// Path is the string form (or the string `path` of the advanced form).
	Path Opt[string]
	// Object is the target-object form (or the object `path` of the advanced form).
	Object *FileTargetObject `variant:"object"`
	// Advanced holds the {path, namespace} form.
	Advanced *FileTargetAdvanced `variant:"object"`
}

// FileTargetAdvanced is {path, namespace}. Path is decoded into FileTarget.
type FileTargetAdvanced struct {
	PathNode  Opt[any]    `json:"path"`
	Namespace Opt[string] `json:"namespace"`
}

// FileTargetObject is a target given as an object, e.g. {"pod": "x"}.
type FileTargetObject struct {
	Ptr         string
	Node        *Node
	Pod         Opt[string]            `json:"pod"`
	Deployment  Opt[string]            `json:"deployment"`
	Rollout     Opt[string]            `json:"rollout"`
	Job         Opt[string]            `json:"job"`
	CronJob     Opt[string]            `json:"cron_job"`
	StatefulSet Opt[string]            `json:"stateful_set"`
	Service     Opt[string]            `json:"service"`
	ReplicaSet  Opt[string]            `json:"replica_set"`
	Labels      Opt[map[string]string] `json:"labels"`
	Container   Opt[string]            `json:"container"`
}

func isTargetObjectKey(k string) bool {
	switch k {
	case "pod", "deployment", "rollout", "job", "cron_job", "stateful_set", "service", "replica_set", "labels", "container":
		return true
	}
	return false
}

func (t *FileTarget) decodeNode(d *decoder, n *Node, ptr string) {
	t.Node, t.Ptr = n, ptr
	switch n.Kind {
	case KindNull:
	case KindString:
		t.Path.decodeNode(d, n, ptr)
	case KindObject:
		// The simple form is tried first, as serde's untagged enum does.
		simple := len(n.Members) > 0
		for _, m := range n.Members {
			if !isTargetObjectKey(m.Key) {
				simple = false
			}
		}
		if simple {
			t.Object = &FileTargetObject{Ptr: ptr, Node: n}
			d.value(refOf(t.Object), n, ptr)
			return
		}
		t.Advanced = new(FileTargetAdvanced)
		d.value(refOf(t.Advanced), n, ptr)
		if m, ok := n.Get("path"); ok {
			pp := Pointer(ptr, "path")
			switch m.Value.Kind {
			case KindString:
				t.Path.decodeNode(d, m.Value, pp)
			case KindObject:
				t.Object = &FileTargetObject{Ptr: pp, Node: m.Value}
				d.value(refOf(t.Object), m.Value, pp)
			}
		}
	default:
		d.mismatch(n, ptr, "a target path string or an object")
	}
}

// FileAgent is `agent`.
type FileAgent struct {
	LogLevel                    Opt[string]            `json:"log_level"`
	JSONLog                     Opt[bool]              `json:"json_log"`
	Namespace                   Opt[string]            `json:"namespace"`
	Image                       FileAgentImage         `json:"image"`
	ImagePullPolicy             Opt[string]            `json:"image_pull_policy"`
	ImagePullSecrets            Opt[[]ImagePullSecret] `json:"image_pull_secrets"`
	TTL                         Opt[uint16]            `json:"ttl"`
	Ephemeral                   Opt[bool]              `json:"ephemeral"`
	CommunicationTimeout        Opt[uint16]            `json:"communication_timeout"`
	StartupTimeout              Opt[uint64]            `json:"startup_timeout"`
	FlushConnections            Opt[bool]              `json:"flush_connections"`
	DisabledCapabilities        Opt[[]string]          `json:"disabled_capabilities"`
	Tolerations                 Opt[[]any]             `json:"tolerations"`
	Resources                   Opt[any]               `json:"resources"`
	CheckOutOfPods              Opt[bool]              `json:"check_out_of_pods"`
	Privileged                  Opt[bool]              `json:"privileged"`
	ExternalIPFix               Opt[bool]              `json:"external_ip_fix"`
	Nftables                    Opt[bool]              `json:"nftables"`
	DNS                         *FileAgentDNS          `json:"dns"`
	Labels                      Opt[map[string]string] `json:"labels"`
	Annotations                 Opt[map[string]string] `json:"annotations"`
	NodeSelector                Opt[map[string]string] `json:"node_selector"`
	ServiceAccount              Opt[string]            `json:"service_account"`
	PriorityClass               Opt[string]            `json:"priority_class"`
	Metrics                     Opt[string]            `json:"metrics"`
	ExcludeFromMesh             Opt[bool]              `json:"exclude_from_mesh"`
	InjectHeaders               Opt[bool]              `json:"inject_headers"`
	OverrideCacheControl        Opt[bool]              `json:"override_cache_control"`
	MaxBodyBufferSize           Opt[uint32]            `json:"max_body_buffer_size"`
	MaxBodyBufferTimeout        Opt[uint32]            `json:"max_body_buffer_timeout"`
	HTTPDetectionTimeout        Opt[uint64]            `json:"http_detection_timeout"`
	SecurityContext             *FileSecurityContext   `json:"security_context"`
	CleanIptablesOnStart        Opt[bool]              `json:"clean_iptables_on_start"`
	DisableMeshSidecarInjection Opt[bool]              `json:"disable_mesh_sidecar_injection"`
	JaqTimeLimit                Opt[uint64]            `json:"jaq_time_limit"`
	// Address and Token are mirrord-ls extensions: connect to an agent
	// that is already running instead of creating one.
	Address Opt[string] `json:"address"`
	Token   Opt[string] `json:"token"`
}

// FileAgentImage is `agent.image`: a string or {registry, tag}.
type FileAgentImage struct {
	Node *Node
	Str  Opt[string]
	Obj  *FileAgentImageObject `variant:"object"`
}

// FileAgentImageObject is the {registry, tag} form.
type FileAgentImageObject struct {
	Registry Opt[string] `json:"registry"`
	Tag      Opt[string] `json:"tag"`
}

func (a *FileAgentImage) decodeNode(d *decoder, n *Node, ptr string) {
	a.Node = n
	switch n.Kind {
	case KindNull:
	case KindString:
		a.Str.decodeNode(d, n, ptr)
	case KindObject:
		a.Obj = new(FileAgentImageObject)
		d.value(refOf(a.Obj), n, ptr)
	default:
		d.mismatch(n, ptr, "a string or {registry, tag}")
	}
}

// ImagePullSecret is one entry of agent.image_pull_secrets.
type ImagePullSecret struct {
	Name string `json:"name"`
}

// FileAgentDNS is agent.dns.
type FileAgentDNS struct {
	Timeout  Opt[uint32] `json:"timeout"`
	Attempts Opt[uint32] `json:"attempts"`
}

// FileSecurityContext is agent.security_context.
type FileSecurityContext struct {
	AppArmorProfile *FileSecurityProfile `json:"app_armor_profile"`
	SeccompProfile  *FileSecurityProfile `json:"seccomp_profile"`
}

// FileSecurityProfile is an AppArmor or seccomp profile.
type FileSecurityProfile struct {
	Type             Opt[string] `json:"type"`
	LocalhostProfile Opt[string] `json:"localhost_profile"`
}

// FileContainer is `container`.
type FileContainer struct {
	CliImage             Opt[string]   `json:"cli_image"`
	CliExtraArgs         Opt[[]string] `json:"cli_extra_args"`
	CliPreventCleanup    Opt[bool]     `json:"cli_prevent_cleanup"`
	CliImageLibPath      Opt[string]   `json:"cli_image_lib_path"`
	OverrideHostIP       Opt[string]   `json:"override_host_ip"`
	HostGatewayDetection Opt[bool]     `json:"host_gateway_detection"`
	CliTLSPath           Opt[string]   `json:"cli_tls_path"`
	Platform             Opt[string]   `json:"platform"`
}

// FileFeature is `feature`.
type FileFeature struct {
	Env         Toggle[FileEnv]        `json:"env"`
	Fs          FileFsField            `json:"fs"`
	Network     Toggle[FileNetwork]    `json:"network"`
	CopyTarget  Toggle[FileCopyTarget] `json:"copy_target"`
	Hostname    Opt[bool]              `json:"hostname"`
	Magic       *FileMagic             `json:"magic"`
	Preview     *FilePreview           `json:"preview"`
	SplitQueues FileSplitQueues        `json:"split_queues"`
	DBBranches  Opt[[]FileDBBranch]    `json:"db_branches"`
}

// FileEnv is feature.env in object form.
type FileEnv struct {
	Include         Opt[Strings]           `json:"include"`
	Exclude         Opt[Strings]           `json:"exclude"`
	Override        Opt[map[string]string] `json:"override"`
	LoadFromProcess Opt[bool]              `json:"load_from_process"`
	Unset           Opt[Strings]           `json:"unset"`
	EnvFile         Opt[string]            `json:"env_file"`
	Mapping         Opt[map[string]string] `json:"mapping"`
}

// FileFsField is feature.fs: a boolean, a mode string or an object.
type FileFsField = ModeToggle[FileFs]

// FileFs is feature.fs in object form.
type FileFs struct {
	Mode               Opt[string]            `json:"mode"`
	ReadWrite          Opt[Strings]           `json:"read_write"`
	ReadOnly           Opt[Strings]           `json:"read_only"`
	Local              Opt[Strings]           `json:"local"`
	NotFound           Opt[Strings]           `json:"not_found"`
	Mapping            Opt[map[string]string] `json:"mapping"`
	ReadonlyFileBuffer Opt[uint64]            `json:"readonly_file_buffer"`
}

// FileNetwork is feature.network in object form.
type FileNetwork struct {
	IPv6     Opt[bool]            `json:"ipv6"`
	Incoming FileIncomingField    `json:"incoming"`
	Outgoing Toggle[FileOutgoing] `json:"outgoing"`
	DNS      Toggle[FileDNS]      `json:"dns"`
}

// FileIncomingField is feature.network.incoming: a boolean, a mode string or an object.
type FileIncomingField = ModeToggle[FileIncoming]

// FileIncoming is feature.network.incoming in object form.
type FileIncoming struct {
	Mode              Opt[string]            `json:"mode"`
	PortMapping       Opt[[][2]uint16]       `json:"port_mapping"`
	ListenPorts       Opt[[][2]uint16]       `json:"listen_ports"`
	IgnoreLocalhost   Opt[bool]              `json:"ignore_localhost"`
	IgnorePorts       Opt[[]uint16]          `json:"ignore_ports"`
	Ports             Opt[[]uint16]          `json:"ports"`
	OnConcurrentSteal Opt[string]            `json:"on_concurrent_steal"`
	TLSDelivery       *FileTLSDelivery       `json:"tls_delivery"`
	HTTPSDelivery     *FileTLSDelivery       `json:"https_delivery"`
	HTTPFilter        Toggle[FileHTTPFilter] `json:"http_filter"`
}

// FileTLSDelivery is incoming.tls_delivery / https_delivery.
type FileTLSDelivery struct {
	Node       *Node
	Ptr        string
	Protocol   Opt[string]   `json:"protocol"`
	TrustRoots Opt[[]string] `json:"trust_roots"`
	ServerName Opt[string]   `json:"server_name"`
	ServerCert Opt[string]   `json:"server_cert"`
}

func (t *FileTLSDelivery) decodeNode(d *decoder, n *Node, ptr string) {
	t.Node, t.Ptr = n, ptr
	d.object(refOf(t), n, ptr)
}

// FileHTTPFilter is incoming.http_filter in object form.
type FileHTTPFilter struct {
	HeaderFilter   Opt[string]            `json:"header_filter"`
	PathFilter     Opt[string]            `json:"path_filter"`
	MethodFilter   Opt[string]            `json:"method_filter"`
	HeaderFilterJq Opt[string]            `json:"header_filter_jq"`
	BodyFilter     Opt[FileBodyFilter]    `json:"body_filter"`
	AllOf          Opt[[]FileInnerFilter] `json:"all_of"`
	AnyOf          Opt[[]FileInnerFilter] `json:"any_of"`
	Ports          Opt[Ports]             `json:"ports"`
}

// FileBodyFilter is a JSON body filter.
type FileBodyFilter struct {
	Body    Opt[string] `json:"body"`
	Query   Opt[string] `json:"query"`
	Matches Opt[string] `json:"matches"`
}

// FileInnerFilter is one element of all_of / any_of.
type FileInnerFilter struct {
	Header  Opt[string] `json:"header"`
	Path    Opt[string] `json:"path"`
	Method  Opt[string] `json:"method"`
	Query   Opt[string] `json:"query"`
	Body    Opt[string] `json:"body"`
	Matches Opt[string] `json:"matches"`
}

// FileOutgoing is feature.network.outgoing in object form.
type FileOutgoing struct {
	TCP             Opt[bool]          `json:"tcp"`
	UDP             Opt[bool]          `json:"udp"`
	IgnoreLocalhost Opt[bool]          `json:"ignore_localhost"`
	Filter          *FileAddressFilter `json:"filter"`
	UnixStreams     Opt[Strings]       `json:"unix_streams"`
}

// FileAddressFilter is {remote: [...]} or {local: [...]}.
type FileAddressFilter struct {
	Remote Opt[Strings] `json:"remote"`
	Local  Opt[Strings] `json:"local"`
}

// FileDNS is feature.network.dns in object form.
type FileDNS struct {
	Enabled Opt[bool]          `json:"enabled"`
	Filter  *FileAddressFilter `json:"filter"`
}

// FileCopyTarget is feature.copy_target in object form.
type FileCopyTarget struct {
	Enabled               Opt[bool]     `json:"enabled"`
	ScaleDown             Opt[bool]     `json:"scale_down"`
	ExcludeContainers     Opt[[]string] `json:"exclude_containers"`
	ExcludeInitContainers Opt[[]string] `json:"exclude_init_containers"`
}

// FileMagic is feature.magic.
type FileMagic struct {
	AWS       Opt[bool] `json:"aws"`
	AutoMount Opt[bool] `json:"auto_mount"`
	Turbo     Opt[bool] `json:"turbo"`
}

// FilePreview is feature.preview.
type FilePreview struct {
	Image               Opt[string]            `json:"image"`
	TTLMins             PreviewTTL             `json:"ttl_mins"`
	TTLSecs             PreviewTTL             `json:"ttl_secs"`
	CreationTimeoutSecs Opt[uint64]            `json:"creation_timeout_secs"`
	Replicas            Opt[int32]             `json:"replicas"`
	Labels              *FilePreviewLabels     `json:"labels"`
	Idle                *FilePreviewIdle       `json:"idle"`
	ConfigMounts        Opt[[]FileConfigMount] `json:"config_mounts"`
	SecretMounts        Opt[[]FileConfigMount] `json:"secret_mounts"`
}

// PreviewTTL is an unsigned number or "infinite".
type PreviewTTL struct {
	Node     *Node
	Ptr      string
	Value    uint64
	Infinite bool
}

// Set reports whether the TTL was given.
func (p PreviewTTL) Set() bool { return p.Node != nil && p.Node.Kind != KindNull }

func (p *PreviewTTL) decodeNode(d *decoder, n *Node, ptr string) {
	p.Node, p.Ptr = n, ptr
	switch {
	case n.Kind == KindNull:
	case n.Kind == KindString && n.Str == "infinite":
		p.Infinite = true
	case n.Kind == KindNumber:
		d.value(refOf(&p.Value), n, ptr)
	default:
		p.Node = nil
		d.mismatch(n, ptr, "an integer or \"infinite\"")
	}
}

// FilePreviewLabels is preview.labels.
type FilePreviewLabels struct {
	Include Opt[Strings] `json:"include"`
	Exclude Opt[Strings] `json:"exclude"`
}

// FilePreviewIdle is preview.idle.
type FilePreviewIdle struct {
	StartIdle       Opt[bool]   `json:"start_idle"`
	SleepAfterSecs  Opt[uint64] `json:"sleep_after_secs"`
	WakeTimeoutSecs Opt[uint64] `json:"wake_timeout_secs"`
}

// FileConfigMount is one preview config or secret mount (an open object).
type FileConfigMount struct {
	MountAt  Opt[string] `json:"mount_at"`
	Type     Opt[string] `json:"type"`
	Payload  Opt[string] `json:"payload"`
	FromFile Opt[string] `json:"from_file"`
	Extra    struct{}    `schema:"open"`
}

// FileSplitQueues is feature.split_queues: a map by queue id or a list.
type FileSplitQueues struct {
	Node    *Node
	Ptr     string
	Entries []FileQueueSplit `variant:"object"`
}

func (q *FileSplitQueues) decodeNode(d *decoder, n *Node, ptr string) {
	q.Node, q.Ptr = n, ptr
	switch n.Kind {
	case KindNull:
	case KindObject:
		for _, m := range n.Members {
			var e FileQueueSplit
			p := Pointer(ptr, m.Key)
			e.ID, e.Ptr = m.Key, p
			d.value(refOf(&e), m.Value, p)
			q.Entries = append(q.Entries, e)
		}
	case KindArray:
		for i, it := range n.Items {
			var e FileQueueSplit
			p := PointerIndex(ptr, i)
			e.Ptr = p
			d.value(refOf(&e), it, p)
			e.ID = e.QueueID.Value
			q.Entries = append(q.Entries, e)
		}
	default:
		d.mismatch(n, ptr, "an object or an array")
	}
}

// FileQueueSplit is one queue-splitting entry.
type FileQueueSplit struct {
	ID              string
	Ptr             string
	QueueID         Opt[string]              `json:"queue_id"`
	QueueType       Opt[string]              `json:"queue_type"`
	QueueMode       Opt[string]              `json:"queue_mode"`
	MessageFilter   Opt[map[string]string]   `json:"message_filter"`
	JqFilter        Opt[string]              `json:"jq_filter"`
	PayloadProtobuf Opt[FilePayloadProtobuf] `json:"payload_protobuf"`
}

// FilePayloadProtobuf is a Kafka payload_protobuf.
type FilePayloadProtobuf struct {
	SchemaFile         Opt[string]   `json:"schema_file"`
	IncludeDirectories Opt[[]string] `json:"include_directories"`
	MessageType        Opt[string]   `json:"message_type"`
	DescriptorBase64   Opt[string]   `json:"descriptor_base64"`
}

// FileDBBranch is one feature.db_branches entry. Engine-specific parts are
// kept as plain values; the operator checks them.
type FileDBBranch struct {
	Type                Opt[string]            `json:"type"`
	ID                  Opt[string]            `json:"id"`
	Name                Opt[string]            `json:"name"`
	TTLSecs             Opt[uint64]            `json:"ttl_secs"`
	TTLMins             Opt[uint64]            `json:"ttl_mins"`
	CreationTimeoutSecs Opt[uint64]            `json:"creation_timeout_secs"`
	Version             Opt[string]            `json:"version"`
	Image               Opt[string]            `json:"image"`
	Profile             Opt[string]            `json:"profile"`
	Location            Opt[string]            `json:"location"`
	Connection          Opt[any]               `json:"connection"`
	Copy                Opt[any]               `json:"copy"`
	IAMAuth             Opt[any]               `json:"iam_auth"`
	Migrations          Opt[any]               `json:"migrations"`
	ConnectionSettings  Opt[any]               `json:"connection_settings"`
	QueryParams         Opt[any]               `json:"query_params"`
	EmulatorHost        Opt[string]            `json:"emulator_host"`
	Port                Opt[uint16]            `json:"port"`
	Command             Opt[string]            `json:"command"`
	Args                Opt[[]string]          `json:"args"`
	Env                 Opt[map[string]string] `json:"env"`
	Readiness           Opt[any]               `json:"readiness"`
	Local               Opt[any]               `json:"local"`
	Extra               struct{}               `schema:"open"`
}

// FileIntProxy is internal_proxy.
type FileIntProxy struct {
	StartIdleTimeout       Opt[uint64] `json:"start_idle_timeout"`
	IdleTimeout            Opt[uint64] `json:"idle_timeout"`
	SocketTimeout          Opt[uint64] `json:"socket_timeout"`
	PingInterval           Opt[uint64] `json:"ping_interval"`
	LogLevel               Opt[string] `json:"log_level"`
	LogDestination         Opt[string] `json:"log_destination"`
	JSONLog                Opt[bool]   `json:"json_log"`
	ProcessLoggingInterval Opt[uint64] `json:"process_logging_interval"`
}

// FileExtProxy is external_proxy.
type FileExtProxy struct {
	TLSEnable        Opt[bool]   `json:"tls_enable"`
	StartIdleTimeout Opt[uint64] `json:"start_idle_timeout"`
	IdleTimeout      Opt[uint64] `json:"idle_timeout"`
	LogLevel         Opt[string] `json:"log_level"`
	LogDestination   Opt[string] `json:"log_destination"`
	JSONLog          Opt[bool]   `json:"json_log"`
	HostIP           Opt[string] `json:"host_ip"`
}

// FileExperimental is experimental.
type FileExperimental struct {
	TCPPing4Mock                   Opt[bool]    `json:"tcp_ping4_mock"`
	TrustAnyCertificate            Opt[bool]    `json:"trust_any_certificate"`
	EnableExecHooksLinux           Opt[bool]    `json:"enable_exec_hooks_linux"`
	HideIPv6Interfaces             Opt[bool]    `json:"hide_ipv6_interfaces"`
	DisableReuseaddr               Opt[bool]    `json:"disable_reuseaddr"`
	UseDevNull                     Opt[bool]    `json:"use_dev_null"`
	IdleLocalHTTPConnectionTimeout Opt[uint64]  `json:"idle_local_http_connection_timeout"`
	IgnoreSystemProxyConfig        Opt[bool]    `json:"ignore_system_proxy_config"`
	BrowserExtensionConfig         Opt[bool]    `json:"browser_extension_config"`
	SipLogDestination              Opt[string]  `json:"sip_log_destination"`
	NonBlockingTCPConnect          Opt[bool]    `json:"non_blocking_tcp_connect"`
	DlopenCgo                      Opt[bool]    `json:"dlopen_cgo"`
	Latency                        *FileLatency `json:"latency"`
	Applev                         *struct{}    `json:"applev"`
	SipUtils                       Opt[bool]    `json:"sip_utils"`
	GoAsmcgocall                   Opt[bool]    `json:"go_asmcgocall"`
	GuardStdFds                    Opt[bool]    `json:"guard_std_fds"`
}

// FileLatency is experimental.latency.
type FileLatency struct {
	TransmitDelay Opt[uint64] `json:"transmit_delay"`
	ReceiveDelay  Opt[uint64] `json:"receive_delay"`
}

// FileStartupRetry is startup_retry.
type FileStartupRetry struct {
	MinMs      Opt[uint64] `json:"min_ms"`
	MaxMs      Opt[uint64] `json:"max_ms"`
	MaxRetries Opt[uint32] `json:"max_retries"`
}

// FileCI is ci.
type FileCI struct {
	OutputDir Opt[string] `json:"output_dir"`
}

// FileJira is `jira`, a mirrord-ls extension: log the time of each session
// on the Jira issue named by the git branch. Credentials are never part of
// the file; they come from the environment only.
type FileJira struct {
	URL             Opt[string] `json:"url"`
	IssueKeyPattern Opt[string] `json:"issue_key_pattern"`
	Enabled         Opt[bool]   `json:"enabled"`
}

// decodeFile builds the file model from a parsed document.
func decodeFile(root *Node) (*FileConfig, []finding) {
	d := &decoder{}
	fc := new(FileConfig)
	d.value(refOf(fc), root, "")
	return fc, d.bad
}
