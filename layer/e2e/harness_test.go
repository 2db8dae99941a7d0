package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

func TestMain(m *testing.M) {
	code := testbin.Run(m, m.Run)
	removeSvProbes()
	os.Exit(code)
}

// session is a pod with a running agent that mirrord exec runs against.
type session struct {
	t        testing.TB
	pod      *agenttest.Pod
	agent    *agenttest.Agent
	mirrord  string
	sessions string // MIRRORD_SESSIONS_DIR
	tmp      string // TMPDIR of the session (short: unix socket paths live there)
}

func newSession(t testing.TB, opts agenttest.PodOptions) *session {
	t.Helper()
	agenttest.RequireRoot(t)
	mirrord := testbin.Mirrord(t)
	pod := agenttest.NewPod(t, opts)
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "30s"}})
	tmp, err := os.MkdirTemp("", "le")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	// Short too: a socket path (with a 36-character session id) must fit
	// in sun_path's 108 bytes, which a subtest's t.TempDir() may not.
	sessions, err := os.MkdirTemp("", "ls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sessions) })
	return &session{t: t, pod: pod, agent: a, mirrord: mirrord, sessions: sessions, tmp: tmp}
}

// config writes a mirrord config file and returns its path.
func (s *session) config(cfg map[string]any) string {
	s.t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
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
	// -t names the pod the agent targets (the config engine refuses steal
	// in a targetless run)
	full := append([]string{"exec", "-f", s.config(cfg), "-t", "pod/" + s.pod.Target, "--"}, args...)
	cmd := exec.CommandContext(ctx, s.mirrord, full...)
	cmd.Env = append(os.Environ(),
		"TMPDIR="+s.tmp, // session sockets and snapshots, removed even when an intproxy is killed
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

// lockedBuffer collects a background process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// background is a command running under mirrord exec.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
}

// start runs a command under mirrord exec in the background, in dir; the
// test's cleanup stops it.
func (s *session) start(cfg map[string]any, dir string, args ...string) *background {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := s.command(ctx, cfg, args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	b := &background{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b.stdout, b.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		s.t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(b.done)
	}()
	s.t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(15 * time.Second):
			s.t.Errorf("%v did not stop", args)
			_ = cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSubscribed waits until the session registry shows a subscription to
// the target port.
func (s *session) waitSubscribed(port uint16, bg *background) {
	s.t.Helper()
	waitFor(s.t, 30*time.Second, fmt.Sprintf("a subscription to port %d (stderr: %s)", port, bg.stderr), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		infos, err := registry.List(ctx, s.sessions)
		if err != nil {
			return false
		}
		for _, in := range infos {
			for _, p := range in.PortSubscriptions {
				if p.Port == port {
					return true
				}
			}
		}
		return false
	})
}
