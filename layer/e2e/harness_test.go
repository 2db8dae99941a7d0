package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

func TestMain(m *testing.M) { agenttest.Main(m) }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// repoRoot is the module root (two levels up from this package).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// binaries builds mirrord and libmirrord_layer.so once per test process
// (into one directory, where mirrord exec finds the layer).
func binaries(t testing.TB) (mirrord string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "layer-e2e-bin-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		root := repoRoot()
		for _, c := range [][]string{
			{"go", "build", "-o", filepath.Join(binDir, "mirrord"), "./cmd/mirrord"},
			{"make", "-s", "BIN=" + binDir, filepath.Join(binDir, "libmirrord_layer.so")},
		} {
			cmd := exec.CommandContext(ctx, c[0], c[1:]...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{cmd: strings.Join(c, " "), out: string(out), err: err}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "mirrord")
}

type buildError struct {
	cmd, out string
	err      error
}

func (e *buildError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + e.out }

// session is a pod with a running agent that mirrord exec runs against.
type session struct {
	t        *testing.T
	pod      *agenttest.Pod
	agent    *agenttest.Agent
	mirrord  string
	sessions string // MIRRORD_SESSIONS_DIR
}

func newSession(t *testing.T, opts agenttest.PodOptions) *session {
	t.Helper()
	agenttest.RequireRoot(t)
	mirrord := binaries(t)
	pod := agenttest.NewPod(t, opts)
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "30s"}})
	return &session{t: t, pod: pod, agent: a, mirrord: mirrord, sessions: t.TempDir()}
}

// config writes a mirrord config file and returns its path.
func (s *session) config(cfg map[string]any) string {
	s.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join(s.t.TempDir(), "mirrord.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// command builds `mirrord exec -f cfg -- args...`.
func (s *session) command(ctx context.Context, cfg map[string]any, args ...string) *exec.Cmd {
	s.t.Helper()
	full := append([]string{"exec", "-f", s.config(cfg), "--"}, args...)
	cmd := exec.CommandContext(ctx, s.mirrord, full...)
	cmd.Env = append(os.Environ(),
		"MIRRORD_AGENT_ADDRESS="+s.agent.Addr,
		"MIRRORD_AGENT_TOKEN="+s.agent.Token,
		"MIRRORD_SESSIONS_DIR="+s.sessions,
		"MIRRORD_INTPROXY_LOG="+filepath.Join(s.t.TempDir(), "intproxy.log"),
		"no_proxy=*", "NO_PROXY=*",
	)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs a command under mirrord exec and returns its output.
func (s *session) run(cfg map[string]any, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := s.command(ctx, cfg, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("mirrord exec %v: %v\n%s", args, err, r.stderr)
	}
	return r
}

// mustRun is run that fails the test on a non-zero exit.
func (s *session) mustRun(cfg map[string]any, args ...string) string {
	s.t.Helper()
	r := s.run(cfg, args...)
	if r.code != 0 {
		s.t.Fatalf("mirrord exec %v: exit %d\nstdout: %s\nstderr: %s\nagent log:\n%s", args, r.code, r.stdout, r.stderr, s.agent.Log())
	}
	return r.stdout
}
