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
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/layer/envmerge"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
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

	// proc is the intproxy this process started (End stops it).
	proc *intproxyProc
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

func (st *starter) run(ctx context.Context) (*Launch, error) {
	id := newSessionID()
	rc, err := resolveConfig(ctx, &st.req, st.rep)
	if err != nil {
		return nil, err
	}
	st.warnings = append(st.warnings, rc.Warnings...) // already reported
	layer, err := st.findLayer()
	if err != nil {
		return nil, err
	}
	if w := binaryWarning(st.req.Executable, rc.Config.LayerMode); w != "" {
		st.warn(w)
	}
	target := rc.Target()
	ho := &handoff.Handoff{
		SessionID: id, Target: target, Branch: rc.Branch.Branch, ConfigPath: rc.Path,
		StartedAt: time.Now().UTC(), Jira: rc.jira,
	}
	if rc.Config.Target.Namespace != nil {
		ho.Namespace = *rc.Config.Target.Namespace
	}

	s := rc.Settings
	var agent *protocol.Client
	if s.Agent.Address != "" {
		t := st.rep.task(TaskConnect)
		defer t.fail()
		ho.Address = s.Agent.Address
		dctx, cancel := context.WithTimeout(ctx, communicationTimeout(rc.Config))
		agent, err = ho.Dial(dctx, "", s.Agent.Token, clientInfo())
		cancel()
		if err != nil {
			return nil, fail("cannot connect to the agent at "+s.Agent.Address,
				"Is the agent running there, and is agent.token (MIRRORD_AGENT_TOKEN) its token?", err)
		}
		t.ok("connected to the pre-started agent at " + s.Agent.Address)
	} else {
		k, err := rc.Kube()
		if err != nil {
			return nil, err
		}
		ho.Namespace, ho.KubeContext = k.Namespace, k.Context
		pod, err := resolveTarget(ctx, k, rc, st.rep, st.warn)
		if err != nil {
			return nil, err
		}
		a, err := StartAgent(ctx, k, rc, AgentOptions{SessionID: id, Pod: pod, Info: clientInfo(), Progress: st.req.Progress})
		if err != nil {
			return nil, err
		}
		st.onFail(func() {
			_ = a.Delete(context.WithoutCancel(ctx))
		})
		s.Agent.Token = a.Token
		ho.Kube = &handoff.KubeAgent{Kubeconfig: k.Kubeconfig, KubeconfigEnv: k.KubeconfigEnv, Context: k.Context, Agent: a.Created}
		agent = a.Client
	}
	defer agent.Close() // the intproxy has its own connection by then
	w := agent.Welcome()
	s.Targetless = rc.Config.Targetless || (!w.Has(protocol.CapSteal) && !w.Has(protocol.CapMirror))

	t := st.rep.task(TaskEnv)
	defer t.fail()
	merged, err := remoteEnvironment(ctx, agent, s, communicationTimeout(rc.Config))
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

	resolvedCfg, err := resolvedConfigEnv(rc.Config)
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
	if proc.attach != "" {
		// the C layer hands static and Go programs to the supervisor
		// (layer/supervisor/attach.go)
		env[supervisor.EnvAttachAddr] = proc.attach
		env[supervisor.EnvExecWrapper] = proc.bin
		env[supervisor.EnvLayerMode] = rc.Config.LayerMode
	}
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
		Target: target, Namespace: ho.Namespace, ConfigPath: rc.Path, Branch: rc.Branch.Branch,
		IntproxyPID: proc.pid, IntproxyLog: proc.log, proc: proc,
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
