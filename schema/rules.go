package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"

	"github.com/dlclark/regexp2"
	regexp2syntax "github.com/dlclark/regexp2/syntax"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
)

// rules runs the semantic checks of reference §4 (generation-time and
// verify rules) on the file model and the resolved config. Unlike mirrord
// it reports every finding, each at the field it concerns.
type rules struct {
	root *Node
	fc   *FileConfig
	cfg  *Config
	opts *Options
	out  []finding
}

type spanned interface{ span() (*Node, string) }

func (o Opt[T]) span() (*Node, string)           { return o.Node, o.Ptr }
func (t Toggle[T]) span() (*Node, string)        { return t.Node, t.Ptr }
func (f ModeToggle[T]) span() (*Node, string)    { return f.Node, f.Ptr }
func (t *FileTLSDelivery) span() (*Node, string) { return t.Node, t.Ptr }
func (p PreviewTTL) span() (*Node, string)       { return p.Node, p.Ptr }

// nodeAt is a spanned node that is not a file-model field (list items).
type nodeAt struct {
	n   *Node
	ptr string
}

func (a nodeAt) span() (*Node, string) { return a.n, a.ptr }

func (r *rules) add(sev Severity, code string, at spanned, format string, args ...any) {
	f := finding{Severity: sev, Code: code, Stage: StageSemantic, Message: fmt.Sprintf(format, args...)}
	if at != nil {
		if n, ptr := at.span(); n != nil {
			f.Pointer, f.Start, f.End = ptr, n.Start, n.End
			if (n.Kind == KindObject || n.Kind == KindArray) && r.root != nil {
				f.Start, f.End = valueSpan(r.root, ptr)
			}
		} else {
			f.NoSpan = true
		}
	} else {
		f.NoSpan = true
	}
	r.out = append(r.out, f)
}

func (r *rules) errf(code string, at spanned, format string, args ...any) {
	r.add(SeverityError, code, at, format, args...)
}

func (r *rules) warnf(code string, at spanned, format string, args ...any) {
	r.add(SeverityWarning, code, at, format, args...)
}

func checkRules(root *Node, fc *FileConfig, cfg *Config, opts *Options) []finding {
	r := &rules{root: root, fc: fc, cfg: cfg, opts: opts}
	r.target()
	r.generation()
	r.verify()
	r.operatorOnly()
	r.unhonoured()
	r.preview()
	r.agentPod()
	r.agentConnection()
	r.jira()
	return r.out
}

func or[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// target checks the target string grammar (A-TARGET-STR, A-LABEL-STR) and
// the object form (one kind key).
func (r *rules) target() {
	t := r.fc.Target
	if t.Path.Set() {
		if _, err := targetpath.Parse(t.Path.Value); err != nil {
			code := "A-TARGET-STR"
			if strings.HasPrefix(t.Path.Value, "label/") {
				code = "A-LABEL-STR"
			}
			r.errf(code, t.Path, "`%s`: %s", fieldPath(t.Path.Ptr), err.Error())
		}
	}
	if o := t.Object; o != nil {
		var kinds []string
		for _, k := range []struct {
			name string
			set  bool
		}{{"pod", o.Pod.Set()}, {"deployment", o.Deployment.Set()}, {"rollout", o.Rollout.Set()}, {"job", o.Job.Set()},
			{"cron_job", o.CronJob.Set()}, {"stateful_set", o.StatefulSet.Set()}, {"service", o.Service.Set()},
			{"replica_set", o.ReplicaSet.Set()}, {"labels", o.Labels.Set()}} {
			if k.set {
				kinds = append(kinds, k.name)
			}
		}
		at := nodeAt{o.Node, o.Ptr}
		switch {
		case len(kinds) == 0 && o.Node != nil && !hasKindKey(o.Node):
			r.errf("A-REQUIRED", at, "`%s`: a target object needs a kind key: one of pod, deployment, rollout, job, cron_job, stateful_set, service, replica_set, labels", fieldPath(o.Ptr))
		case len(kinds) > 1:
			r.errf("A-TYPES", at, "`%s`: a target object has exactly one kind key, found %s", fieldPath(o.Ptr), quoteList(kinds))
		}
	}
}

// generation holds the checks mirrord makes while building the config (§4.2).
func (r *rules) generation() {
	ff := or(r.fc.Feature)
	if a := r.fc.Agent; a != nil && a.FlushConnections.Set() {
		r.warnf("C-UNSTABLE", a.FlushConnections, "Warning: field AgentConfig.flush_connections is marked as unstable. Please note its behavior may change in the future.")
	}
	if a := r.fc.Agent; a != nil && a.Metrics.Set() {
		if _, err := netip.ParseAddrPort(a.Metrics.Value); err != nil {
			r.errf("A-TYPES", a.Metrics, "`agent.metrics`: `%s` is not a socket address; expected IP:port such as 0.0.0.0:9000", a.Metrics.Value)
		}
	}
	if n := ff.Network.Obj; n != nil {
		if in := n.Incoming.Obj; in != nil {
			r.portMap(in.PortMapping)
			r.portMap(in.ListenPorts)
			if in.OnConcurrentSteal.Set() {
				r.warnf("C-UNSTABLE", in.OnConcurrentSteal, "Warning: field IncomingFileConfig.on_concurrent_steal is marked as unstable. Please note its behavior may change in the future.")
			}
		}
		if o := n.Outgoing.Obj; o != nil && o.UnixStreams.Set() {
			r.warnf("C-UNSTABLE", o.UnixStreams, "Warning: field OutgoingFileConfig.unix_streams is marked as unstable. Please note its behavior may change in the future.")
			r.re2List(o.UnixStreams)
		}
	}
	for _, ld := range []Opt[string]{or(r.fc.InternalProxy).LogDestination, or(r.fc.ExternalProxy).LogDestination} {
		r.logDestination(ld)
	}
	if e := r.fc.Experimental; e != nil {
		if e.NonBlockingTCPConnect.Set() {
			r.warnf("C-DEPRECATED", e.NonBlockingTCPConnect, "`experimental.non_blocking_tcp_connect` is deprecated and has no effect; remove it.")
		}
		if e.SipUtils.Set() {
			r.warnf("C-DEPRECATED", e.SipUtils, "`experimental.sip_utils` is deprecated and has no effect; remove it.")
		}
	}
}

// logDestination checks C-LOGDEST: a path written with a trailing
// separator names a directory, so it must not be an existing file.
func (r *rules) logDestination(o Opt[string]) {
	if !o.Set() || !strings.HasSuffix(o.Value, string(os.PathSeparator)) {
		return
	}
	dir := strings.TrimSuffix(o.Value, string(os.PathSeparator))
	if dir == "" {
		return
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		r.errf("C-LOGDEST", o, "`%s`: `%s` ends with a path separator, but `%s` is a file, not a directory", fieldPath(o.Ptr), o.Value, dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		r.errf("C-LOGDEST", o, "`%s`: cannot check `%s`: %v", fieldPath(o.Ptr), dir, err)
	}
}

// portMap checks C-PORTMAP-DUP and V-PORTMAP-IDENTITY.
func (r *rules) portMap(o Opt[[][2]uint16]) {
	if !o.Set() {
		return
	}
	from, to := map[uint16]bool{}, map[uint16]bool{}
	name := fieldPath(o.Ptr)
	for i, p := range o.Value {
		at := nodeAt{o.Node.Items[i], PointerIndex(o.Ptr, i)}
		if from[p[0]] {
			r.errf("C-PORTMAP-DUP", at, "`%s`: port %d appears twice as a source port", name, p[0])
		}
		if to[p[1]] {
			r.errf("C-PORTMAP-DUP", at, "`%s`: port %d appears twice as a target port", name, p[1])
		}
		from[p[0]], to[p[1]] = true, true
		if p[0] == p[1] && strings.HasSuffix(o.Ptr, "/port_mapping") {
			r.warnf("V-PORTMAP-IDENTITY", at, "`%s`: port %d is mapped to itself; the entry has no effect", name, p[0])
		}
	}
}

func (r *rules) re2List(o Opt[Strings]) {
	for i, s := range o.Value {
		if err := re2Regex(s); err != nil {
			r.errf("V-REGEX", r.item(o.Node, o.Ptr, i), "`%s`: invalid regular expression: %s", fieldPath(o.Ptr), err.Error())
		}
	}
}

// item is the i-th entry of a VecOrSingle (the value itself for the single form).
func (r *rules) item(n *Node, ptr string, i int) spanned {
	if n != nil && n.Kind == KindArray && i < len(n.Items) {
		return nodeAt{n.Items[i], PointerIndex(ptr, i)}
	}
	return nodeAt{n, ptr}
}

// fancyRegex compiles a pattern the way mirrord's fancy-regex fields are
// compiled (look-around and backreferences allowed).
//
// Only the syntax is checked (parsing is what fails on a bad pattern; the
// compiled program is not needed), which keeps verification fast.
func fancyRegex(p string) error {
	_, err := regexp2syntax.Parse(p, regexp2syntax.RegexOptions(regexp2.RE2))
	if err != nil {
		_, err = regexp2syntax.Parse(p, regexp2syntax.RegexOptions(regexp2.None))
	}
	return err
}

// re2Regex checks a pattern for the fields mirrord compiles with Rust's
// regex crate (no look-around), with Go's RE2 syntax: parsing is where
// every syntax error is found.
func re2Regex(p string) error {
	_, err := syntax.Parse(p, syntax.Perl)
	return err
}

func (r *rules) verify() {
	c := r.cfg
	ff := or(r.fc.Feature)
	fa := or(r.fc.Agent)
	path := c.Target.Path
	operatorOff := c.Operator != nil && !*c.Operator
	targetAt := spanned(nodeAt{r.fc.Target.Node, "/target"})

	// Label targets.
	if path != nil && path.Kind == targetpath.Label {
		if len(path.Labels) == 0 {
			r.errf("V-LABEL-NONEMPTY", targetAt, "a label target needs at least one label")
		}
		if c.Feature.CopyTarget.Enabled {
			r.errf("V-LABEL-COPY", ff.CopyTarget, "`feature.copy_target` cannot be used with a label target")
		}
		if c.MultiCluster != nil && *c.MultiCluster {
			r.errf("V-LABEL-MC", r.fc.MultiCluster, "`multi_cluster` cannot be used with a label target")
		}
		if len(ff.SplitQueues.Entries) > 0 {
			r.errf("V-LABEL-QUEUES", nodeAt{ff.SplitQueues.Node, ff.SplitQueues.Ptr}, "`feature.split_queues` cannot be used with a label target")
		}
		if ff.DBBranches.Set() && len(ff.DBBranches.Value) > 0 {
			r.errf("V-LABEL-DB", ff.DBBranches, "`feature.db_branches` cannot be used with a label target")
		}
	}
	if c.Agent.Ephemeral && c.Agent.Namespace != nil {
		r.warnf("V-AGENT-NS-EPHEMERAL", fa.Namespace, "`agent.namespace` is ignored with `agent.ephemeral`: the ephemeral agent runs in the target's pod")
	}
	net := or(ff.Network.Obj)
	out := or(net.Outgoing.Obj)
	dns := or(net.DNS.Obj)
	if c.Feature.Network.Outgoing.Filter != nil && c.Feature.Network.Outgoing.Filter.Remote != nil && !c.Feature.Network.DNS.Enabled {
		r.warnf("V-OUT-REMOTE-NODNS", nodeAt{nodeOf(out.Filter), "/feature/network/outgoing/filter"}, "`feature.network.outgoing.filter` is `remote` while remote DNS is disabled: names in the filter are resolved locally, so the filter may not match the remote addresses")
	}
	r.httpFilter(net)
	in := or(net.Incoming.Obj)
	if len(in.IgnorePorts.Value) > 0 && in.Ports.Set() {
		r.errf("V-INCOMING-PORTS-XOR", in.Ports, "Conflicting configuration found `Cannot use both `incoming.ignore_ports` and `incoming.ports` at the same time`")
	}
	if in.HTTPSDelivery != nil && in.TLSDelivery != nil {
		r.errf("V-TLS-BOTH", in.HTTPSDelivery, "`incoming.https_delivery` and `incoming.tls_delivery` cannot both be set; use `tls_delivery`")
	}
	if in.HTTPSDelivery != nil {
		r.warnf("V-HTTPS-DEPRECATED", in.HTTPSDelivery, "`incoming.https_delivery` is deprecated; rename it to `tls_delivery`")
	}
	for _, td := range []*FileTLSDelivery{in.TLSDelivery, in.HTTPSDelivery} {
		if td == nil {
			continue
		}
		if td.Protocol.Get("") == "tls" {
			if td.TrustRoots.Set() && td.ServerCert.Set() {
				r.errf("V-TLS-ROOTS-CERT", td.ServerCert, "`%s`: `trust_roots` and `server_cert` cannot both be set", fieldPath(td.Ptr))
			}
			if td.TrustRoots.Set() && len(td.TrustRoots.Value) == 0 {
				r.errf("V-TLS-ROOTS-EMPTY", td.TrustRoots, "`%s`: `trust_roots` must not be empty", fieldPath(td.Ptr))
			}
		}
		if td.ServerName.Set() && !validServerName(td.ServerName.Value) {
			r.errf("V-TLS-SNI", td.ServerName, "`%s.server_name`: `%s` is neither a valid DNS name nor an IP address", fieldPath(td.Ptr), td.ServerName.Value)
		}
	}
	// Targetless runs.
	if c.Targetless {
		if c.Feature.Network.Incoming.Mode == "steal" {
			r.errf("V-TARGETLESS-STEAL", modeSpan(net), "steal mode cannot be used in a targetless run: there is no target whose traffic could be stolen")
		}
		if c.Agent.Ephemeral {
			r.errf("V-TARGETLESS-EPHEMERAL", fa.Ephemeral, "`agent.ephemeral` cannot be used in a targetless run: an ephemeral agent needs a target pod")
		}
		if c.Agent.Namespace != nil {
			r.warnf("V-TARGETLESS-AGENTNS", fa.Namespace, "`agent.namespace` is set in a targetless run; the agent is created there, and remote networking happens in that namespace")
		}
	}
	// copy_target.
	if c.Feature.CopyTarget.Enabled {
		ct := ff.CopyTarget
		if operatorOff {
			r.errf("V-COPY-NOOP", ct, "`feature.copy_target` needs the mirrord operator, but `operator` is false")
		}
		if c.Targetless {
			r.errf("V-COPY-TARGETLESS", ct, "`feature.copy_target` cannot be used in a targetless run")
		}
		if path != nil && path.Kind == targetpath.Service {
			r.errf("V-COPY-SERVICE", ct, "`feature.copy_target` cannot be used with a service target")
		}
		if c.Feature.Network.Incoming.Mode != "steal" {
			r.warnf("V-COPY-NOSTEAL", ct, "`feature.copy_target` is enabled without steal mode: the copied pod receives no traffic from the cluster's clients, only mirrored copies")
		}
	}
	if path != nil && path.Kind.NeedsOperator() && operatorOff {
		r.errf("V-TARGET-NEEDS-OP", targetAt, "%s targets need the mirrord operator, but `operator` is false", path.Kind)
	}
	// feature.env.
	env := or(ff.Env.Obj)
	if len(c.Feature.Env.Include) > 0 && len(c.Feature.Env.Exclude) > 0 && (env.Include.Set() || env.Exclude.Set()) {
		at := spanned(env.Exclude)
		if !env.Exclude.Set() {
			at = env.Include
		}
		r.errf("V-ENV-INCL-EXCL", at, "`feature.env.include` and `feature.env.exclude` cannot both be set")
	}
	if env.Mapping.Set() {
		for _, m := range env.Mapping.Node.Members {
			if err := fancyRegex(m.Key); err != nil {
				r.out = append(r.out, finding{Severity: SeverityError, Code: "V-ENV-MAP-REGEX", Stage: StageSemantic, Pointer: Pointer(env.Mapping.Ptr, m.Key),
					Start: m.KeyStart, End: m.KeyEnd, Message: fmt.Sprintf("`feature.env.mapping`: key `%s` is not a valid regular expression: %s", m.Key, err.Error())})
			}
		}
	}
	// fs patterns (RE2-like).
	if fs := ff.Fs.Obj; fs != nil {
		for _, o := range []Opt[Strings]{fs.ReadWrite, fs.ReadOnly, fs.Local, fs.NotFound} {
			r.re2List(o)
		}
		if fs.Mapping.Set() {
			for _, m := range fs.Mapping.Node.Members {
				if err := re2Regex(m.Key); err != nil {
					r.out = append(r.out, finding{Severity: SeverityError, Code: "V-REGEX", Stage: StageSemantic, Pointer: Pointer(fs.Mapping.Ptr, m.Key),
						Start: m.KeyStart, End: m.KeyEnd, Message: fmt.Sprintf("`feature.fs.mapping`: key `%s` is not a valid regular expression: %s", m.Key, err.Error())})
				}
			}
		}
		if b := fs.ReadonlyFileBuffer; b.Set() {
			switch {
			case b.Value > 15728640:
				r.errf("V-FS-BUFFER", b, "`feature.fs.readonly_file_buffer` is %d bytes; the maximum is 15728640 (15 MiB)", b.Value)
			case b.Value > 1048576:
				r.warnf("V-FS-BUFFER", b, "`feature.fs.readonly_file_buffer` is %d bytes, over 1 MiB; large buffers slow down small reads", b.Value)
			}
		}
	}
	// DNS and outgoing filters.
	r.addressFilters(out, dns)
	r.queues(ff)
	r.dbBranches(ff, env)
	// preview values
	if p := ff.Preview; p != nil {
		if p.TTLMins.Set() && p.TTLSecs.Set() {
			r.errf("V-PREVIEW-TTL", p.TTLSecs, "`feature.preview.ttl_mins` and `ttl_secs` cannot both be set")
		}
		if p.Replicas.Set() && p.Replicas.Value < 0 {
			r.errf("V-PREVIEW-REPLICAS", p.Replicas, "`feature.preview.replicas` must not be negative")
		}
		if l := p.Labels; l != nil && l.Include.Set() && l.Exclude.Set() {
			r.errf("V-PREVIEW-LABELS", l.Exclude, "`feature.preview.labels.include` and `exclude` cannot both be set")
		}
		if id := p.Idle; id != nil {
			if id.SleepAfterSecs.Set() && id.SleepAfterSecs.Value < 30 {
				r.errf("V-PREVIEW-SLEEP", id.SleepAfterSecs, "`feature.preview.idle.sleep_after_secs` must be at least 30")
			}
			if id.WakeTimeoutSecs.Set() && id.WakeTimeoutSecs.Value == 0 {
				r.errf("V-PREVIEW-WAKE", id.WakeTimeoutSecs, "`feature.preview.idle.wake_timeout_secs` must not be 0")
			}
		}
		for _, mounts := range []Opt[[]FileConfigMount]{p.ConfigMounts, p.SecretMounts} {
			for i, m := range mounts.Value {
				at := nodeAt{mounts.Node.Items[i], PointerIndex(mounts.Ptr, i)}
				name := fieldPath(at.ptr)
				switch {
				case m.Payload.Set() == m.FromFile.Set():
					r.errf("V-PREVIEW-MOUNTS", at, "`%s`: exactly one of `payload` or `from_file` is required", name)
				case m.Payload.Set() && !m.Type.Set():
					r.errf("V-PREVIEW-MOUNTS", at, "`%s`: `payload` requires `type` (text or binary)", name)
				case m.FromFile.Set() && m.Type.Set():
					r.errf("V-PREVIEW-MOUNTS", m.Type, "`%s`: `type` cannot be used with `from_file`", name)
				case m.Payload.Set() && m.Type.Get("") == "binary":
					if _, err := base64.StdEncoding.DecodeString(m.Payload.Value); err != nil {
						r.errf("V-PREVIEW-MOUNTS", m.Payload, "`%s.payload`: a binary payload must be valid base64", name)
					}
				}
			}
		}
	}
	if r.fc.Profile.Set() {
		for _, f := range r.out {
			if f.Severity == SeverityWarning {
				r.warnf("V-PROFILE-NOTE", r.fc.Profile, "profile `%s` is applied after these checks and may change the config; see the MirrordProfile resource", r.fc.Profile.Value)
				break
			}
		}
	}
	sr := or(r.fc.StartupRetry)
	if c.StartupRetry.MinMs > c.StartupRetry.MaxMs {
		r.errf("V-RETRY-ORDER", sr.MinMs, "`startup_retry.min_ms` (%d) must not be greater than `max_ms` (%d)", c.StartupRetry.MinMs, c.StartupRetry.MaxMs)
	}
	if c.StartupRetry.MaxMs == 0 {
		r.errf("V-RETRY-ZERO", sr.MaxMs, "`startup_retry.max_ms` must not be 0")
	}
	for _, h := range []struct {
		o    Opt[string]
		name string
	}{{or(r.fc.Container).OverrideHostIP, "container.override_host_ip"}, {or(r.fc.ExternalProxy).HostIP, "external_proxy.host_ip"}} {
		// The schema marks these with format "ip", which the validator
		// does not know; check them here.
		if h.o.Set() {
			if _, err := netip.ParseAddr(h.o.Value); err != nil {
				r.errf("A-TYPES", h.o, "`%s`: `%s` is not an IP address", h.name, h.o.Value)
			}
		}
	}
}

func nodeOf(f *FileAddressFilter) *Node {
	if f == nil {
		return nil
	}
	if f.Remote.Node != nil {
		return f.Remote.Node
	}
	return f.Local.Node
}

func modeSpan(n *FileNetwork) spanned {
	if n.Incoming.Obj != nil && n.Incoming.Obj.Mode.Set() {
		return n.Incoming.Obj.Mode
	}
	if n.Incoming.Node != nil {
		return n.Incoming
	}
	return nil
}

func validServerName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '*' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func (r *rules) httpFilter(net *FileNetwork) {
	in := net.Incoming.Obj
	if in == nil || in.HTTPFilter.Obj == nil {
		return
	}
	h := in.HTTPFilter.Obj
	var set []string
	var last spanned
	for _, f := range []struct {
		name string
		on   bool
		at   spanned
	}{{"path_filter", h.PathFilter.Set(), h.PathFilter}, {"header_filter", h.HeaderFilter.Set(), h.HeaderFilter},
		{"all_of", h.AllOf.Set(), h.AllOf}, {"any_of", h.AnyOf.Set(), h.AnyOf}, {"body_filter", h.BodyFilter.Set(), h.BodyFilter}} {
		if f.on {
			set = append(set, f.name)
			last = f.at
		}
	}
	if len(set) > 1 {
		r.errf("V-HTTP-EXCLUSIVE", last, "invalid feature.network.incoming.http_filter value: only one of %s can be set, found %s; combine filters with `all_of` or `any_of`",
			quoteList([]string{"path_filter", "header_filter", "all_of", "any_of", "body_filter"}), quoteList(set))
	}
	for _, f := range []struct {
		name  string
		o     Opt[string]
		fancy bool
	}{{"header_filter", h.HeaderFilter, true}, {"path_filter", h.PathFilter, true}, {"method_filter", h.MethodFilter, false}, {"header_filter_jq", h.HeaderFilterJq, false}} {
		if !f.o.Set() {
			continue
		}
		if f.o.Value == "" {
			r.errf("V-HTTP-EMPTY-STR", f.o, "invalid feature.network.incoming.http_filter value ``: HTTP filter `%s` cannot be an empty string", f.name)
			continue
		}
		if f.fancy {
			if err := fancyRegex(f.o.Value); err != nil {
				r.errf("V-HTTP-REGEX", f.o, "`%s`: invalid regular expression: %s", fieldPath(f.o.Ptr), err.Error())
			}
		}
		if f.name == "method_filter" {
			r.method(f.o)
		}
	}
	if h.BodyFilter.Set() {
		r.bodyFilter(h.BodyFilter.Value, "body_filter")
	}
	for _, list := range []struct {
		name string
		o    Opt[[]FileInnerFilter]
	}{{"all_of", h.AllOf}, {"any_of", h.AnyOf}} {
		if !list.o.Set() {
			continue
		}
		if len(list.o.Value) == 0 {
			r.errf("V-HTTP-COMPOSITE-EMPTY", list.o, "invalid feature.network.incoming.http_filter value: `%s` cannot be empty", list.name)
		}
		for i, inner := range list.o.Value {
			sub := fmt.Sprintf("%s[%d]", list.name, i)
			keys := 0
			for _, f := range []struct {
				name string
				o    Opt[string]
			}{{"header", inner.Header}, {"path", inner.Path}, {"method", inner.Method}, {"query", inner.Query}} {
				if !f.o.Set() {
					continue
				}
				keys++
				if f.o.Value == "" {
					r.errf("V-HTTP-EMPTY-STR", f.o, "invalid feature.network.incoming.http_filter value ``: HTTP filter `%s.%s` cannot be an empty string", sub, f.name)
					continue
				}
				switch f.name {
				case "header", "path":
					if err := fancyRegex(f.o.Value); err != nil {
						r.errf("V-HTTP-REGEX", f.o, "`%s`: invalid regular expression: %s", fieldPath(f.o.Ptr), err.Error())
					}
				case "method":
					r.method(f.o)
				}
			}
			if inner.Body.Set() || inner.Matches.Set() {
				if !inner.Body.Set() || !inner.Query.Set() || !inner.Matches.Set() {
					r.errf("A-REQUIRED", nodeAt{list.o.Node.Items[i], PointerIndex(list.o.Ptr, i)}, "`%s`: a body filter needs `body`, `query` and `matches`", fieldPath(PointerIndex(list.o.Ptr, i)))
				} else {
					r.bodyFilter(FileBodyFilter{Body: inner.Body, Query: inner.Query, Matches: inner.Matches}, sub)
				}
			} else if keys > 1 {
				r.errf("A-TYPES", nodeAt{list.o.Node.Items[i], PointerIndex(list.o.Ptr, i)}, "`%s`: an inner filter has exactly one of `header`, `path`, `method` or `query`", fieldPath(PointerIndex(list.o.Ptr, i)))
			}
		}
	}
}

func (r *rules) method(o Opt[string]) {
	for _, m := range httpMethods {
		if strings.EqualFold(m, o.Value) {
			return
		}
	}
	r.errf("V-HTTP-METHOD", o, "`%s`: `%s` is not an HTTP method; expected one of %s", fieldPath(o.Ptr), o.Value, strings.Join(httpMethods, ", "))
}

func (r *rules) bodyFilter(b FileBodyFilter, name string) {
	if b.Query.Set() {
		if b.Query.Value == "" {
			r.errf("V-HTTP-EMPTY-STR", b.Query, "invalid feature.network.incoming.http_filter value ``: HTTP filter `%s.query` cannot be an empty string", name)
		} else if err := CheckJSONPath(b.Query.Value); err != nil {
			r.errf("V-HTTP-JSONPATH", b.Query, "`%s`: invalid JSONPath: %s", fieldPath(b.Query.Ptr), err.Error())
		}
	}
	if b.Matches.Set() {
		if b.Matches.Value == "" {
			r.errf("V-HTTP-EMPTY-STR", b.Matches, "invalid feature.network.incoming.http_filter value ``: HTTP filter `%s.matches` cannot be an empty string", name)
		} else if err := fancyRegex(b.Matches.Value); err != nil {
			r.errf("V-HTTP-REGEX", b.Matches, "`%s`: invalid regular expression: %s", fieldPath(b.Matches.Ptr), err.Error())
		}
	}
}

func (r *rules) addressFilters(out *FileOutgoing, dns *FileDNS) {
	c := r.cfg.Feature.Network
	if f := out.Filter; f != nil {
		for _, side := range []Opt[Strings]{f.Remote, f.Local} {
			for i, e := range side.Value {
				if _, err := ParseAddress(e, true); err != nil {
					r.errf("V-OUT-FILTER-GRAMMAR", r.item(side.Node, side.Ptr, i), "invalid `%s` entry %s", fieldPath(side.Ptr), err.Error())
				}
			}
		}
	}
	if f := dns.Filter; f != nil {
		at := nodeAt{nodeOf(f), "/feature/network/dns/filter"}
		if !c.DNS.Enabled {
			r.warnf("V-DNS-FILTER-DISABLED", at, "`feature.network.dns.filter` is set but remote DNS is disabled; the filter has no effect")
			return
		}
		for _, side := range []Opt[Strings]{f.Remote, f.Local} {
			if side.Set() && len(side.Value) == 0 {
				r.warnf("V-DNS-FILTER-EMPTY", side, "`%s` is empty", fieldPath(side.Ptr))
			}
			for i, e := range side.Value {
				if _, err := ParseAddress(e, false); err != nil {
					r.errf("V-DNS-FILTER-GRAMMAR", r.item(side.Node, side.Ptr, i), "invalid `%s` entry %s", fieldPath(side.Ptr), err.Error())
				}
			}
		}
	}
	// VER-DNS-REFLECT: names of the outgoing filter that the DNS filter
	// lists on the other side.
	if c.DNS.Enabled && out.Filter != nil && dns.Filter != nil {
		outSide, other := out.Filter.Local, dns.Filter.Remote
		if out.Filter.Remote.Set() {
			outSide, other = out.Filter.Remote, dns.Filter.Local
		}
		for i, e := range outSide.Value {
			a, err := ParseAddress(e, true)
			if err != nil || !a.IsName {
				continue
			}
			for _, o := range other.Value {
				if b, err := ParseAddress(o, false); err == nil && b.Host == a.Host {
					r.warnf("VER-DNS-REFLECT", r.item(outSide.Node, outSide.Ptr, i), "`%s` is in the outgoing filter's %s list but in the DNS filter's other list; its DNS and its traffic go different ways", a.Host, lastToken(outSide.Ptr))
				}
			}
		}
	}
}

var queueTypes = []string{"SQS", "Kafka", "RMQ", "GCPPubSub", "RedisPubSub", "AzureServiceBus", "Temporal", "BullMQ"}

func (r *rules) queues(ff *FileFeature) {
	for _, q := range ff.SplitQueues.Entries {
		if q.QueueType.Set() && !contains(queueTypes, q.QueueType.Value) {
			s := suggest(q.QueueType.Value, queueTypes)
			msg := fmt.Sprintf("`%s`: unknown queue_type `%s`, expected one of: %s", fieldPath(q.QueueType.Ptr), q.QueueType.Value, strings.Join(queueTypes, ", "))
			if s != "" {
				msg += fmt.Sprintf(" (did you mean `%s`?)", s)
			}
			r.errf("V-QUEUES", q.QueueType, "%s", msg)
			if s != "" {
				r.out[len(r.out)-1].Suggestion = s
			}
		}
		if q.MessageFilter.Set() {
			for _, m := range q.MessageFilter.Node.Members {
				if err := fancyRegex(m.Value.Str); err != nil {
					r.errf("V-QUEUES", nodeAt{m.Value, Pointer(q.MessageFilter.Ptr, m.Key)}, "%s.message_filter.%s: failed to parse regular expression: %s", q.ID, m.Key, err.Error())
				}
			}
			if q.QueueType.Get("") == "RMQ" && q.JqFilter.Set() {
				r.errf("V-QUEUES", q.JqFilter, "`%s`: RMQ queues do not support `jq_filter`", fieldPath(q.JqFilter.Ptr))
			}
		}
		if q.PayloadProtobuf.Set() {
			if q.QueueType.Get("") != "Kafka" {
				r.errf("V-QUEUES", q.PayloadProtobuf, "`%s`: `payload_protobuf` is only supported for Kafka queues", fieldPath(q.PayloadProtobuf.Ptr))
			} else if !q.JqFilter.Set() {
				r.errf("V-QUEUES", q.PayloadProtobuf, "`%s`: `payload_protobuf` requires `jq_filter`", fieldPath(q.PayloadProtobuf.Ptr))
			}
			pp := q.PayloadProtobuf.Value
			if !pp.SchemaFile.Set() && !pp.DescriptorBase64.Set() {
				r.errf("C-PROTOBUF", q.PayloadProtobuf, "`%s`: one of `schema_file` or `descriptor_base64` is required", fieldPath(q.PayloadProtobuf.Ptr))
			}
		}
		if q.QueueType.Get("") == "RMQ" && !q.MessageFilter.Set() {
			r.errf("A-REQUIRED", nodeAt{r.nodeAtPtr(q.Ptr), q.Ptr}, "`%s`: RMQ queues need `message_filter`", fieldPath(q.Ptr))
		}
	}
}

func hasKindKey(n *Node) bool {
	for _, m := range n.Members {
		if m.Key != "container" && isTargetObjectKey(m.Key) {
			return true
		}
	}
	return n.Kind != KindObject || len(n.Members) == 0
}

func (r *rules) nodeAtPtr(ptr string) *Node {
	n, _ := r.root.Locate(ptr)
	return n
}

var dbEnvNames = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *rules) dbBranches(ff *FileFeature, env *FileEnv) {
	for i, b := range ff.DBBranches.Value {
		at := nodeAt{ff.DBBranches.Node.Items[i], PointerIndex(ff.DBBranches.Ptr, i)}
		name := fieldPath(at.ptr)
		if b.TTLSecs.Set() && b.TTLMins.Set() {
			r.errf("V-DB-TTL", b.TTLMins, "`%s`: `ttl_secs` and `ttl_mins` cannot both be set", name)
		}
		if b.Image.Set() && b.Version.Set() && b.Type.Get("") != "generic" {
			r.errf("V-DB-IMAGE-VERSION", b.Version, "`%s`: `image` and `version` cannot both be set", name)
		}
		if b.Migrations.Set() && !b.Name.Set() {
			r.errf("V-DB-MIGR-NAME", b.Migrations, "`%s`: `migrations` needs `name`", name)
		}
		if b.Type.Get("") == "redis" && b.Location.Get("remote") == "remote" && b.Name.Set() {
			if _, err := strconv.ParseUint(b.Name.Value, 10, 32); err != nil {
				r.errf("V-DB-REDIS-NAME", b.Name, "`%s.name`: a Redis database name must be a database number (u32), found `%s`", name, b.Name.Value)
			}
		}
		if b.Type.Get("") == "generic" {
			r.genericBranch(b, at)
		}
		if b.Migrations.Set() {
			r.flyway(b, at)
		}
		if env.Override.Set() && b.Connection.Set() {
			for _, k := range connectionEnvKeys(b.Connection.Value) {
				if _, ok := env.Override.Value[k]; ok {
					r.errf("V-DB-ENV-CONFLICT", env.Override, "`feature.env.override` sets `%s`, which the database branch `%s` also sets", k, name)
				}
			}
		}
	}
}

var dbVarRef = regexp.MustCompile(`\$?\$\(([^)]*)\)`)

var fixedParams = []string{"host", "port", "user", "password", "database"}

// genericBranch checks V-DB-GENERIC and its warnings for `type: generic`.
func (r *rules) genericBranch(b FileDBBranch, at nodeAt) {
	name := fieldPath(at.ptr)
	if b.Version.Set() {
		r.errf("V-DB-GENERIC", b.Version, "`%s`: a generic branch cannot have `version`", name)
	}
	if !b.Image.Set() {
		r.errf("V-DB-GENERIC", at, "`%s`: a generic branch needs `image`", name)
	}
	if !b.Port.Set() {
		r.errf("A-REQUIRED", at, "`%s`: a generic branch needs `port`", name)
	}
	declared := map[string]bool{"MIRRORD_BRANCH_ID": true}
	if b.Name.Set() {
		declared["MIRRORD_DATABASE_NAME"] = true
	}
	if b.Env.Set() {
		for _, m := range b.Env.Node.Members {
			k := m.Key
			if strings.HasPrefix(k, "MIRRORD_PARAM_") || k == "MIRRORD_BRANCH_ID" || k == "MIRRORD_DATABASE_NAME" || !dbEnvNames.MatchString(k) {
				r.errf("V-DB-GENERIC", nodeAt{m.Value, Pointer(b.Env.Ptr, k)}, "`%s.env`: `%s` is reserved or not a valid variable name", name, k)
			}
			declared[k] = true
		}
	}
	// The connection must use the params form.
	params := map[string]*Member{}
	var paramOrder []string
	if b.Connection.Set() {
		conn := b.Connection.Node
		pm, ok := conn.Get("params")
		if !ok || pm.Value.Kind != KindObject {
			r.errf("V-DB-GENERIC", b.Connection, "`%s.connection`: a generic branch must use the `params` form", name)
		} else {
			seen := map[string]string{}
			for i := range pm.Value.Members {
				m := &pm.Value.Members[i]
				ptr := Pointer(Pointer(b.Connection.Ptr, "params"), m.Key)
				if !contains(fixedParams, m.Key) && !dbEnvNames.MatchString(m.Key) {
					r.errf("V-DB-GENERIC", nodeAt{m.Value, ptr}, "`%s`: param name `%s` must match [A-Za-z_][A-Za-z0-9_]*", name, m.Key)
				}
				up := strings.ToUpper(m.Key)
				if other, dup := seen[up]; dup {
					r.errf("V-DB-GENERIC", nodeAt{m.Value, ptr}, "`%s`: params `%s` and `%s` are the same after upper-casing", name, other, m.Key)
				}
				seen[up] = m.Key
				if strings.Contains(anyText(m.Value), "gcp_secret_manager") {
					r.errf("V-DB-GENERIC", nodeAt{m.Value, ptr}, "`%s`: param `%s` uses gcp_secret_manager, which generic branches do not support", name, m.Key)
				}
				declared["MIRRORD_PARAM_"+up] = true
				params[up] = m
				paramOrder = append(paramOrder, up)
			}
			if params["HOST"] == nil && params["PORT"] == nil {
				r.warnf("V-DB-GENERIC-NOHOST", b.Connection, "`%s`: the generic branch declares neither a `host` nor a `port` param", name)
			}
		}
	}
	// Every $(VAR) must be declared; $$( escapes.
	used := map[string]bool{}
	check := func(text string, where spanned) {
		for _, m := range dbVarRef.FindAllStringSubmatch(text, -1) {
			if strings.HasPrefix(m[0], "$$") {
				continue
			}
			used[m[1]] = true
			if !declared[m[1]] {
				r.errf("V-DB-GENERIC", where, "`%s`: `$(%s)` names no declared param, env key, MIRRORD_BRANCH_ID or MIRRORD_DATABASE_NAME", name, m[1])
			}
		}
	}
	if b.Command.Set() {
		check(b.Command.Value, b.Command)
	}
	for i, a := range b.Args.Value {
		check(a, nodeAt{b.Args.Node.Items[i], PointerIndex(b.Args.Ptr, i)})
	}
	if b.Env.Set() {
		for _, m := range b.Env.Node.Members {
			check(m.Value.Str, nodeAt{m.Value, Pointer(b.Env.Ptr, m.Key)})
		}
	}
	for _, p := range paramOrder {
		if !used["MIRRORD_PARAM_"+p] {
			m := params[p]
			r.warnf("V-DB-GENERIC-UNUSED", nodeAt{m.Value, Pointer(Pointer(b.Connection.Ptr, "params"), m.Key)}, "`%s`: param `%s` is declared but `$(MIRRORD_PARAM_%s)` is never used", name, m.Key, p)
		}
	}
}

// flyway checks V-DB-FLYWAY.
func (r *rules) flyway(b FileDBBranch, at nodeAt) {
	m, ok := b.Migrations.Value.(map[string]any)
	if !ok || m["flavor"] != "flyway" {
		return
	}
	_, path := m["path"]
	_, locations := m["locations"]
	_, image := m["image"]
	name := fieldPath(b.Migrations.Ptr)
	switch {
	case path && locations:
		r.errf("V-DB-FLYWAY", b.Migrations, "`%s`: flyway migrations take `path` or `locations`, not both", name)
	case !path && !locations:
		r.errf("V-DB-FLYWAY", b.Migrations, "`%s`: flyway migrations need `path` or `locations`", name)
	case locations && !image:
		r.errf("V-DB-FLYWAY", b.Migrations, "`%s`: flyway migrations with `locations` need `image`", name)
	}
}

// anyText flattens the strings of a node (keys and values).
func anyText(n *Node) string {
	var b strings.Builder
	var walk func(*Node)
	walk = func(n *Node) {
		b.WriteString(n.Str)
		for _, m := range n.Members {
			b.WriteString(" " + m.Key + " ")
			walk(m.Value)
		}
		for _, it := range n.Items {
			walk(it)
		}
	}
	walk(n)
	return b.String()
}

// connectionEnvKeys collects env_var_name-like values of a db connection.
func connectionEnvKeys(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				e := x[k]
				if s, ok := e.(string); ok && (k == "env_var_name" || k == "variable" || k == "name") {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// operatorOnly warns about operator-only settings when the operator may
// be absent (operator unset) and says what is not available without it.
func (r *rules) operatorOnly() {
	if r.cfg.Operator != nil {
		return // true: the operator is required; false: the rules above decide
	}
	// The operator-only settings the runtime cannot carry out are
	// errors (unhonoured, UnhonouredSettings); these are warnings.
	const tail = "is available only with the mirrord operator (mirrord for Teams); without it"
	ff := or(r.fc.Feature)
	if in := or(ff.Network.Obj).Incoming.Obj; in != nil {
		if in.OnConcurrentSteal.Set() {
			r.warnf("W-OPERATOR-ONLY", in.OnConcurrentSteal, "`incoming.on_concurrent_steal` %s concurrent steals are not detected", tail)
		}
	}
	if ff.Preview != nil {
		r.warnf("W-OPERATOR-ONLY", nodeAt{r.nodeAtPtr("/feature/preview"), "/feature/preview"}, "`feature.preview` %s no preview environment is created", tail)
	}
}

// preview holds the preview-environment checks that apply without an
// operator (P-IDLE-WAKE); the rest need the operator's preview flow.
func (r *rules) preview() {
	ff := or(r.fc.Feature)
	p := ff.Preview
	if p == nil || p.Idle == nil {
		return
	}
	if r.cfg.Feature.Network.Incoming.Mode == "off" && len(ff.SplitQueues.Entries) == 0 {
		const ptr = "/feature/preview/idle"
		start, end := valueSpan(r.root, ptr)
		r.out = append(r.out, finding{Severity: SeverityError, Code: "P-IDLE-WAKE", Stage: StageSemantic, Pointer: ptr, Start: start, End: end,
			Message: "`feature.preview.idle` is enabled but incoming traffic is off and there are no split_queues: nothing could wake the preview"})
	}
}
