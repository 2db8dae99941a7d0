package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHandoffIntproxy) == "1" && len(os.Args) > 1 && os.Args[1] == "intproxy" {
		os.Exit(runHandoffIntproxy(os.Args[1:]))
	}
	os.Exit(testbin.Run(m, func() int { return kubetest.Run(m) }))
}

// fixture is a pod with a pre-started agent and a private session directory.
type fixture struct {
	t        testing.TB
	pod      *agenttest.Pod
	agent    *agenttest.Agent
	mirrord  string
	sessions string
	logDir   string
}

func newFixture(t testing.TB, podEnv map[string]string) *fixture {
	t.Helper()
	agenttest.RequireRoot(t)
	mirrord := testbin.Mirrord(t)
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: podEnv})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "60s"}})
	sessions, err := os.MkdirTemp("/tmp", "msess") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, pod: pod, agent: a, mirrord: mirrord, sessions: sessions, logDir: t.TempDir()}
	// Registered after the pod and agent, so it runs before their cleanup:
	// every session the test left is stopped and must be gone.
	t.Cleanup(func() {
		f.stopAll()
		os.RemoveAll(sessions)
	})
	return f
}

// env is the environment `mirrord ext` runs with, as an editor sets it.
func (f *fixture) env(extra ...string) []string {
	env := append(os.Environ(),
		"MIRRORD_PROGRESS_MODE=json",
		"MIRRORD_AGENT_ADDRESS="+f.agent.Addr,
		"MIRRORD_AGENT_TOKEN="+f.agent.Token,
		"MIRRORD_SESSIONS_DIR="+f.sessions,
		"MIRRORD_INTPROXY_LOG="+filepath.Join(f.logDir, "intproxy.log"),
	)
	return append(env, extra...)
}

func (f *fixture) config(cfg map[string]any) string {
	f.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	p := filepath.Join(f.t.TempDir(), "mirrord.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// runMirrord runs the mirrord CLI and returns stdout, stderr and the exit code.
func (f *fixture) runMirrord(env []string, args ...string) (string, string, int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.mirrord, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatalf("mirrord %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String(), code
}

// stopAll stops every live session of the fixture and waits until their
// intproxies are gone.
func (f *fixture) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	infos, _ := registry.List(ctx, f.sessions)
	for _, in := range infos {
		_ = registry.Kill(ctx, f.sessions, in.ID)
		agenttest.WaitGone(f.t, in.PID)
	}
}

// ideLine is one progress line as the editors model it (VS Code api.ts,
// IntelliJ MirrordApi.kt): a tagged object.
type ideLine struct {
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	Parent  *string         `json:"parent"`
	Success *bool           `json:"success"`
	Message json.RawMessage `json:"message"`
}

// execution is MirrordExecution.
type execution struct {
	Environment  map[string]string `json:"environment"`
	PatchedPath  *string           `json:"patched_path"`
	EnvToUnset   []string          `json:"env_to_unset"`
	UsesOperator bool              `json:"uses_operator"`
}

// ideResult is what an editor extracts from `mirrord ext`.
type ideResult struct {
	lines     []ideLine
	exec      *execution
	execRaw   string
	sessionID string
	warnings  []string
}

const rootTask = "mirrord preparing to launch"

// parseLikeIDE reads stdout as the editors do: a line scanner with a large
// buffer, blank and non-JSON lines skipped, the result taken from the
// successful FinishedTask of the root task, whose message is JSON in a
// string. It also checks each line against the contract strictly.
func parseLikeIDE(t testing.TB, r io.Reader) ideResult {
	t.Helper()
	var res ideResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var l ideLine
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Errorf("a stdout line is not JSON (editors would skip it): %q", text)
			continue
		}
		res.lines = append(res.lines, l)
		switch l.Type {
		case "NewTask":
			if l.Name == "" {
				t.Errorf("NewTask without a name: %s", text)
			}
		case "FinishedTask":
			if l.Success == nil {
				t.Errorf("FinishedTask without success: %s", text)
			}
			if l.Name == rootTask && l.Success != nil && *l.Success {
				var s string
				if err := json.Unmarshal(l.Message, &s); err != nil {
					t.Fatalf("root FinishedTask message is not a string: %s", text)
				}
				var ex execution
				if err := json.Unmarshal([]byte(s), &ex); err != nil {
					t.Fatalf("root FinishedTask message is not a MirrordExecution: %q: %v", s, err)
				}
				res.exec, res.execRaw = &ex, s
			}
		case "Warning", "Info":
			var s string
			if err := json.Unmarshal(l.Message, &s); err != nil {
				t.Errorf("%s message is not a string: %s", l.Type, text)
			}
			if l.Type == "Warning" {
				res.warnings = append(res.warnings, s)
			}
			if id, ok := strings.CutPrefix(s, "session ID: "); ok && l.Type == "Info" {
				res.sessionID = id
			}
		case "IdeMessage":
		default:
			t.Errorf("unknown progress line type %q: %s", l.Type, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(res.lines); n > 0 && res.exec != nil {
		last := res.lines[n-1]
		if last.Type != "FinishedTask" || last.Name != rootTask {
			t.Errorf("the root FinishedTask is not the last line: %+v", last)
		}
	}
	return res
}

// launchEnv builds the debuggee's environment as an editor does: its own
// environment minus env_to_unset, plus environment.
func launchEnv(base []string, ex *execution) []string {
	m := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for _, u := range ex.EnvToUnset {
		for k := range m {
			if strings.EqualFold(k, u) {
				delete(m, k)
			}
		}
	}
	for k, v := range ex.Environment {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
