// Package session starts mirrord sessions: it resolves the config (with
// discovery), resolves the target, creates the agent (or uses a pre-started
// one), connects, fetches the remote environment, starts the session's
// intproxy (`mirrord intproxy`, its own process, which registers the session
// in the per-user session directory) and returns the launch environment an
// editor or `mirrord ext` gives to the debuggee.
//
// Subpackages: registry (the session directory and each session's socket
// API), branch (git branch detection), jira (worklogs), handoff (what Start
// tells the intproxy: how to reach the agent, what to clean up).
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/layer/envmerge"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
	"github.com/mirrord-ls/mirrord-ls/session/jira"
	"github.com/mirrord-ls/mirrord-ls/session/registry"
)

// Environment variables of the launch environment.
const (
	EnvLayerAddr      = "MIRRORD_LAYER_INTPROXY_ADDR"
	EnvResolvedConfig = "MIRRORD_RESOLVED_CONFIG"
	EnvLayerFile      = "MIRRORD_LAYER_FILE"
	EnvPreload        = "LD_PRELOAD"
)

// LayerName is the layer library's file name.
const LayerName = "libmirrord_layer.so"

// Request describes the session to start.
type Request struct {
	// ConfigPath is an explicit config (`-f`, the editor's active config);
	// relative to WorkspaceFolder. Empty: discovery.
	ConfigPath string
	// WorkspaceFolder is where discovery and branch detection look; empty
	// for the CLI (no default-config discovery, as the official CLI; the
	// branch of the working directory).
	WorkspaceFolder string
	// Target overrides the config's target (`-t`), "targetless" included.
	Target string
	// Executable is the program the editor will launch (`-e`); only used
	// for a warning about binaries the layer cannot load into.
	Executable string
	// Env is the launch's environment overrides (MIRRORD_* variables from
	// the launch configuration); it is looked up before the process's. An
	// empty value hides the process's variable.
	Env map[string]string
	// Mirrord is the mirrord binary that runs `mirrord intproxy`; empty:
	// this executable if it is mirrord, else mirrord next to it.
	Mirrord string
	// Layer is libmirrord_layer.so; empty: $MIRRORD_LAYER_FILE, else next
	// to Mirrord.
	Layer string
	// SessionsDir is the session registry; empty: registry.DefaultDir.
	SessionsDir string
	// Progress receives each step.
	Progress ProgressFunc
}

// Launch is a started session: what the debuggee needs.
type Launch struct {
	SessionID string `json:"session_id"`
	// Environment is laid over the debuggee's environment: LD_PRELOAD,
	// MIRRORD_LAYER_INTPROXY_ADDR, MIRRORD_RESOLVED_CONFIG and the
	// target's environment after include/exclude, env_file, mapping and
	// override.
	Environment map[string]string `json:"environment"`
	// EnvToUnset is feature.env.unset: names to remove (case-insensitive).
	EnvToUnset []string `json:"env_to_unset"`
	Warnings   []string `json:"warnings"`
	Target     string   `json:"target"`
	Namespace  string   `json:"namespace,omitempty"`
	ConfigPath string   `json:"config_path,omitempty"`
	Branch     string   `json:"branch,omitempty"`
	// IntproxyPID is the session's process; IntproxyLog its log file.
	IntproxyPID int    `json:"intproxy_pid"`
	IntproxyLog string `json:"intproxy_log,omitempty"`
}

func (r *Request) lookup(name string) (string, bool) {
	if v, ok := r.Env[name]; ok {
		return v, v != ""
	}
	return os.LookupEnv(name)
}

// starter holds one Start's state and its undo stack.
type starter struct {
	req      Request
	rep      reporter
	undo     []func()
	warnings []string
}

func (s *starter) warn(msg string) {
	s.warnings = append(s.warnings, msg)
	s.rep.warning(msg)
}

func (s *starter) onFail(f func()) { s.undo = append(s.undo, f) }

// Start starts a session. Cancelling ctx before it returns tears down what
// was set up (agent Job and Secret deleted, intproxy stopped). Errors are
// *Error.
func Start(ctx context.Context, req Request) (_ *Launch, err error) {
	st := &starter{req: req, rep: reporter{req.Progress}}
	defer func() {
		if err == nil {
			return
		}
		for i := len(st.undo) - 1; i >= 0; i-- {
			st.undo[i]()
		}
		if ctx.Err() != nil {
			if !errors.Is(err, ctx.Err()) {
				err = errors.Join(ctx.Err(), err)
			}
			err = fail("the session start was cancelled", "", err)
			return
		}
		var se *Error
		if !errors.As(err, &se) {
			err = fail("mirrord failed to start the session", "", err)
		}
	}()
	return st.run(ctx)
}

// resolved is the outcome of the configuration step.
type resolved struct {
	cfg        *schema.Config
	settings   settings.Settings
	configPath string
	branch     branch.Info
	jira       *jira.Settings
}

func (st *starter) run(ctx context.Context) (*Launch, error) {
	id := newSessionID()
	rc, err := st.resolveConfig(ctx)
	if err != nil {
		return nil, err
	}
	layer, err := st.findLayer()
	if err != nil {
		return nil, err
	}
	if w := binaryWarning(st.req.Executable); w != "" {
		st.warn(w)
	}
	target := rc.settings.Target
	if target == "" || rc.cfg.Targetless {
		target = "targetless"
	}
	ho := &handoff.Handoff{
		SessionID: id, Target: target, Branch: rc.branch.Branch, ConfigPath: rc.configPath,
		StartedAt: time.Now().UTC(), Jira: rc.jira,
	}
	if rc.cfg.Target.Namespace != nil {
		ho.Namespace = *rc.cfg.Target.Namespace
	}

	s := rc.settings
	var agent *protocol.Client
	if s.Agent.Address != "" {
		t := st.rep.task(TaskConnect)
		defer t.fail()
		ho.Address = s.Agent.Address
		dctx, cancel := context.WithTimeout(ctx, communicationTimeout(rc.cfg))
		agent, err = ho.Dial(dctx, "", s.Agent.Token, clientInfo())
		cancel()
		if err != nil {
			return nil, fail("cannot connect to the agent at "+s.Agent.Address,
				"Is the agent running there, and is agent.token (MIRRORD_AGENT_TOKEN) its token?", err)
		}
		t.ok("connected to the pre-started agent at " + s.Agent.Address)
	} else {
		token, err := randomToken()
		if err != nil {
			return nil, err
		}
		s.Agent.Token = token
		if agent, err = st.clusterAgent(ctx, rc, ho, id, token); err != nil {
			return nil, err
		}
	}
	defer agent.Close() // the intproxy has its own connection by then
	w := agent.Welcome()
	s.Targetless = rc.cfg.Targetless || (!w.Has(protocol.CapSteal) && !w.Has(protocol.CapMirror))

	t := st.rep.task(TaskEnv)
	defer t.fail()
	merged, err := remoteEnvironment(ctx, agent, s, communicationTimeout(rc.cfg))
	if err != nil {
		return nil, fail("cannot fetch the target's environment", "", err)
	}
	t.ok(fmt.Sprintf("%d variables", len(merged.Set)))

	t = st.rep.task(TaskIntproxy)
	defer t.fail()
	proc, err := st.startIntproxy(ctx, id, s, ho)
	if err != nil {
		return nil, fail("cannot start the internal proxy", "", err)
	}
	st.onFail(proc.stop)
	t.ok("internal proxy ready")
	st.rep.info("session ID: " + id)

	resolvedCfg, err := resolvedConfigEnv(rc.cfg)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range merged.Set {
		env[k] = v
	}
	inherited, _ := st.req.lookup(EnvPreload)
	env[EnvPreload] = prependList(layer, inherited)
	env[EnvLayerAddr] = proc.socket
	env[EnvResolvedConfig] = resolvedCfg
	unset := merged.Unset
	if unset == nil {
		unset = []string{}
	}
	warnings := st.warnings
	if warnings == nil {
		warnings = []string{}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Launch{
		SessionID: id, Environment: env, EnvToUnset: unset, Warnings: warnings,
		Target: target, Namespace: ho.Namespace, ConfigPath: rc.configPath, Branch: rc.branch.Branch,
		IntproxyPID: proc.pid, IntproxyLog: proc.log,
	}, nil
}

func clientInfo() protocol.ClientInfo {
	return protocol.ClientInfo{Name: "mirrord-session", Version: version.Version}
}

// communicationTimeout bounds connecting and the environment fetch
// (agent.communication_timeout, 30 s by default).
func communicationTimeout(cfg *schema.Config) time.Duration {
	if cfg.Agent.CommunicationTimeout != nil && *cfg.Agent.CommunicationTimeout > 0 {
		return time.Duration(*cfg.Agent.CommunicationTimeout) * time.Second
	}
	return 30 * time.Second
}

// resolveConfig discovers, renders and verifies the config, and detects the
// branch (which the git_branch template variable needs).
func (st *starter) resolveConfig(ctx context.Context) (*resolved, error) {
	t := st.rep.task(TaskConfig)
	defer t.fail()
	req := &st.req
	lookup := req.lookup
	if req.Target != "" {
		lookup = func(name string) (string, bool) {
			if name == "MIRRORD_IMPERSONATED_TARGET" {
				return req.Target, true
			}
			return req.lookup(name)
		}
	}
	d, err := schema.Discover(schema.DiscoverOptions{Explicit: req.ConfigPath, WorkspaceFolder: req.WorkspaceFolder, LookupEnv: lookup})
	if err != nil {
		return nil, fail("cannot find the mirrord config", "Check -f / the active config and MIRRORD_CONFIG_FILE.", err)
	}
	text, name := []byte("{}"), "mirrord.json"
	if d.Path != "" {
		if text, err = os.ReadFile(d.Path); err != nil {
			return nil, fail("cannot read the mirrord config", "", err)
		}
		name = d.Path
	}
	folder := req.WorkspaceFolder
	if folder == "" {
		folder, _ = os.Getwd()
	}
	br, err := branch.Detect(ctx, folder, branch.Options{LookupEnv: lookup})
	if err != nil {
		br = branch.Info{Source: branch.SourceNone}
		st.warn("git branch detection failed: " + err.Error())
	}
	res := schema.Verify(ctx, text, schema.Options{
		Path: name, Env: lookup,
		GitBranch: func() (string, bool) { return br.Branch, br.Branch != "" },
	})
	var errs []string
	for _, diag := range res.Diagnostics {
		at := name
		if diag.Range != (schema.Range{}) {
			at = fmt.Sprintf("%s:%d:%d", name, diag.Range.Start.Line+1, diag.Range.Start.Column+1)
		}
		if diag.Severity == schema.SeverityError {
			errs = append(errs, at+": "+diag.Message)
		} else {
			st.warn(diag.Message)
		}
	}
	if len(errs) > 0 || res.Config == nil {
		return nil, fail("the mirrord config is invalid", "Run `mirrord verify-config "+name+"` or open it in an editor with mirrord-ls.",
			errors.New(strings.Join(errs, "\n")))
	}
	s, err := settings.FromConfig(res.Config)
	if err == nil {
		err = s.ApplyEnv(lookup)
	}
	if err != nil {
		return nil, fail("the mirrord config is not supported", "", err)
	}
	t.ok("config resolved")
	return &resolved{cfg: res.Config, settings: s, configPath: d.Path, branch: br, jira: jiraSettings(res.Config)}, nil
}

// jiraSettings is the config's jira section (MIRRORD_JIRA_URL and
// MIRRORD_JIRA_ISSUE_KEY_PATTERN already applied); nil when disabled.
func jiraSettings(cfg *schema.Config) *jira.Settings {
	j := cfg.Jira
	if !j.Enabled || j.URL == nil || *j.URL == "" {
		return nil
	}
	return &jira.Settings{URL: *j.URL, IssueKeyPattern: j.IssueKeyPattern}
}

// clusterAgent resolves the target, creates the agent, waits for it and
// connects through port-forward.
func (st *starter) clusterAgent(ctx context.Context, rc *resolved, ho *handoff.Handoff, id, token string) (*protocol.Client, error) {
	cfg := rc.cfg
	opts := kubeconfig.Options{LookupEnv: st.req.lookup}
	if cfg.Kubeconfig != nil {
		opts.Kubeconfig = *cfg.Kubeconfig
	}
	if cfg.KubeContext != nil {
		opts.Context = *cfg.KubeContext
	}
	kc, err := kubeconfig.Load(opts)
	if err != nil {
		return nil, fail("cannot load the Kubernetes configuration", "Set agent.address and agent.token to use a pre-started agent without a cluster.", err)
	}
	client, err := kubernetes.NewForConfig(kc.REST)
	if err != nil {
		return nil, fail("cannot create a Kubernetes client", "", err)
	}
	ns := kc.Namespace
	if cfg.Target.Namespace != nil && *cfg.Target.Namespace != "" {
		ns = *cfg.Target.Namespace
	}
	ho.Namespace, ho.KubeContext = ns, kc.Context

	params, err := agentpod.FromConfig(cfg.Agent)
	if err != nil {
		return nil, fail("invalid agent settings", "", err)
	}
	params.SessionID, params.TargetPath, params.Branch = id, ho.Target, rc.branch.Branch
	params.Namespace = ns
	if cfg.Agent.Namespace != nil && *cfg.Agent.Namespace != "" {
		params.Namespace = *cfg.Agent.Namespace
	}
	if !cfg.Targetless && cfg.Target.Path != nil {
		t := st.rep.task(TaskTarget)
		defer t.fail()
		dyn, _ := dynamic.NewForConfig(kc.REST)
		r := &resolve.Resolver{Client: client, Dynamic: dyn}
		res, err := r.Resolve(ctx, ns, *cfg.Target.Path)
		if err != nil {
			return nil, fail("cannot resolve the target "+cfg.Target.Path.String(), "Pick a running target with `mirrord ls`.", err)
		}
		for _, w := range res.Warnings {
			st.warn(w)
		}
		if res.Pods > 1 {
			st.warn(fmt.Sprintf("%s has %d pods: this session impersonates only %s", cfg.Target.Path, res.Pods, res.Pod.Name))
		}
		params.Target = &agentpod.Target{Pod: res.Pod.Name, Namespace: res.Namespace, Node: res.NodeName,
			Container: res.Container, ContainerID: res.ContainerID}
		t.ok(fmt.Sprintf("pod/%s/container/%s", res.Pod.Name, res.Container))
	}

	t := st.rep.task(TaskAgent)
	defer t.fail()
	startup := time.Duration(cfg.Agent.StartupTimeout) * time.Second
	if startup <= 0 {
		startup = 60 * time.Second
	}
	a, err := agentpod.Create(ctx, client, params, token)
	if err != nil {
		return nil, fail("cannot create the agent", "", err)
	}
	st.onFail(func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = a.Delete(cctx, client)
	})
	if err := a.WaitReady(ctx, client, startup); err != nil {
		return nil, fail("the agent did not start", agentHelp(err), err)
	}
	t.ok("agent pod " + a.Pod + " running")
	kubeconfigEnv, _ := st.req.lookup("KUBECONFIG")
	ho.Kube = &handoff.KubeAgent{Kubeconfig: opts.Kubeconfig, KubeconfigEnv: kubeconfigEnv, Context: kc.Context, Agent: *a}

	t = st.rep.task(TaskConnect)
	defer t.fail()
	dctx, cancel := context.WithTimeout(ctx, startup)
	defer cancel()
	c, err := ho.Dial(dctx, "", token, clientInfo())
	if err != nil {
		return nil, fail("cannot connect to the agent through port-forward", "Check that you may create pods/portforward in "+a.Namespace+".", err)
	}
	t.ok("connected")
	return c, nil
}

func agentHelp(err error) string {
	switch {
	case errors.Is(err, agentpod.ErrImagePull):
		return "Check agent.image (MIRRORD_AGENT_IMAGE) and agent.image_pull_secrets."
	case errors.Is(err, agentpod.ErrUnschedulable):
		return "Check agent.node_selector, agent.tolerations and agent.resources against the cluster's nodes."
	case errors.Is(err, agentpod.ErrTimeout):
		return "Raise agent.startup_timeout if the cluster is slow to start pods."
	}
	return ""
}

// remoteEnvironment fetches and merges the target's environment.
func remoteEnvironment(ctx context.Context, agent *protocol.Client, s settings.Settings, timeout time.Duration) (envmerge.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	remote := map[string]string{}
	if !s.Env.Disabled {
		var err error
		if remote, err = agent.Env(ctx, protocol.EnvRequest{Include: s.Env.Include, Exclude: s.Env.Exclude}); err != nil {
			return envmerge.Result{}, err
		}
	}
	return envmerge.Merge(remote, s.Env, nil)
}

// resolvedConfigEnv is MIRRORD_RESOLVED_CONFIG: base64 of the resolved
// config as JSON (its JSON form never carries the agent token).
func resolvedConfigEnv(cfg *schema.Config) (string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode the resolved config: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// findLayer locates libmirrord_layer.so.
func (st *starter) findLayer() (string, error) {
	if st.req.Layer != "" {
		return st.req.Layer, checkFile(st.req.Layer, "layer")
	}
	if p, ok := st.req.lookup(EnvLayerFile); ok && p != "" {
		return p, checkFile(p, EnvLayerFile)
	}
	bin, err := st.mirrordBinary()
	if err == nil {
		p := filepath.Join(filepath.Dir(bin), LayerName)
		if checkFile(p, "layer") == nil {
			return p, nil
		}
	}
	return "", fail("the layer library "+LayerName+" was not found",
		"Build it with `make bin/"+LayerName+"`, keep it next to the mirrord binary, or set "+EnvLayerFile+".", err)
}

func checkFile(p, what string) error {
	if _, err := os.Stat(p); err != nil {
		return fail(what+" "+p+" is missing", "", err)
	}
	return nil
}

// mirrordBinary is the binary that runs `mirrord intproxy`.
func (st *starter) mirrordBinary() (string, error) {
	if st.req.Mirrord != "" {
		return st.req.Mirrord, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the mirrord binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	if filepath.Base(self) == "mirrord" {
		return self, nil
	}
	p := filepath.Join(filepath.Dir(self), "mirrord")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the mirrord binary is not next to %s: %w", self, err)
	}
	return p, nil
}

// newSessionID is a random UUIDv4, as the official CLI's local session ids.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomToken() (string, error) {
	var b [24]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func prependList(first, rest string) string {
	if rest == "" {
		return first
	}
	return first + ":" + rest
}

// defaultSessionsDir resolves the registry directory for a request.
func (r *Request) sessionsDir() (string, error) {
	if r.SessionsDir != "" {
		return r.SessionsDir, nil
	}
	return registry.DefaultDir(r.lookup)
}
