package agenttest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Agent is a running mirrord-agent process.
type Agent struct {
	// Addr is where it listens, Token its session secret.
	Addr, Token string
	// PID is the agent's (guard's) process id.
	PID int

	t      testing.TB
	pod    *Pod
	cmd    *exec.Cmd
	waited chan struct{}
	werr   error
	mu     sync.Mutex
	log    bytes.Buffer
}

// AgentOptions customise StartAgent.
type AgentOptions struct {
	// Args replace the target arguments (default: --pid of the pod's app
	// and --root of the pod's root).
	Args []string
	// Extra arguments appended.
	Extra []string
	// NoWait returns before the ready line (for agents expected to fail).
	NoWait bool
	// Token is the session token (default: a random one). It reaches the
	// agent through MIRRORD_AGENT_TOKEN, never its command line.
	Token string
	// OwnGroup starts the agent in a process group of its own (its pid),
	// which its worker inherits, so that a test can kill all of it at
	// once as Kubernetes does: syscall.Kill(-a.PID, syscall.SIGKILL).
	OwnGroup bool
}

// StartAgent starts mirrord-agent on 127.0.0.1 (random port) against pod
// and waits for its ready line. t.Cleanup stops it (SIGTERM, then SIGKILL)
// and checks that neither it nor its worker is left.
func StartAgent(t testing.TB, pod *Pod, opts AgentOptions) *Agent {
	t.Helper()
	bin := AgentBinary(t)
	token := opts.Token
	if token == "" {
		token = randomHex(16)
	}
	args := opts.Args
	if args == nil {
		args = []string{"--pid", strconv.Itoa(pod.AppPID), "--root", pod.Root}
	}
	args = append(append([]string{"--listen", "127.0.0.1:0", "--communication-timeout", "60s"}, args...), opts.Extra...)
	a := &Agent{Token: token, t: t, pod: pod, waited: make(chan struct{})}
	a.cmd = exec.Command(bin, args...)
	a.cmd.Env = append(os.Environ(), "MIRRORD_AGENT_TOKEN="+token)
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: opts.OwnGroup}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stderr = &lockedWriter{a: a}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.PID = a.cmd.Process.Pid
	go func() {
		a.werr = a.cmd.Wait()
		close(a.waited)
	}()
	t.Cleanup(func() { a.Stop() })
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		addr := ""
		for sc.Scan() {
			line := sc.Text()
			a.logLine(line + "\n")
			if v, ok := strings.CutPrefix(line, "listening on "); ok {
				addr = v
			}
			if strings.HasPrefix(line, "agent ready - version ") {
				addrc <- addr
			}
		}
		close(addrc)
	}()
	if opts.NoWait {
		return a
	}
	select {
	case addr, ok := <-addrc:
		if !ok || addr == "" {
			<-a.waited
			t.Fatalf("agent exited before ready (%v):\n%s", a.werr, a.Log())
		}
		a.Addr = addr
	case <-time.After(30 * time.Second):
		t.Fatalf("agent not ready after 30s:\n%s", a.Log())
	}
	// The token is never on a command line (issue 15): ps must not show
	// it, in the guard's or the worker's arguments.
	for _, pid := range append([]int{a.PID}, a.Workers()...) {
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && bytes.Contains(cmdline, []byte(token)) {
			t.Fatalf("the session token is on the command line of agent process %d: %q", pid, cmdline)
		}
	}
	return a
}

type lockedWriter struct{ a *Agent }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.a.logLine(string(p))
	return len(p), nil
}

func (a *Agent) logLine(s string) {
	a.mu.Lock()
	a.log.WriteString(s)
	a.mu.Unlock()
}

// Log is everything the agent printed so far.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// Wait waits up to d for the agent to exit and returns its exit code
// (-1 if it did not exit).
func (a *Agent) Wait(d time.Duration) int {
	select {
	case <-a.waited:
		return a.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// Workers lists the agent's live child processes (its worker).
func (a *Agent) Workers() []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(a.PID) + "/task/*/children")
	var pids []int
	for _, task := range tasks {
		data, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// Stop sends SIGTERM, waits up to 15 s (then SIGKILL), and checks that no
// worker survived.
func (a *Agent) Stop() {
	workers := a.Workers()
	select {
	case <-a.waited:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.waited:
		case <-time.After(15 * time.Second):
			a.t.Errorf("agent did not exit 15s after SIGTERM; killing it")
			_ = a.cmd.Process.Kill()
			<-a.waited
		}
	}
	for _, w := range workers {
		deadline := time.Now().Add(5 * time.Second)
		for processAlive(w) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(w) {
			a.t.Errorf("agent worker %d left behind", w)
			_ = syscall.Kill(w, syscall.SIGKILL)
		}
	}
	if a.pod != nil {
		if left, err := a.pod.Redirections(); err == nil && left != "" {
			a.t.Errorf("%s left after the agent exited; its log:\n%s", left, a.Log())
		}
	}
}

// Client connects a protocol client and closes it at cleanup.
func (a *Agent) Client(t testing.TB) *protocol.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := protocol.Dial(ctx, a.Addr, protocol.Options{Token: a.Token, Info: protocol.ClientInfo{Name: t.Name()}})
	if err != nil {
		t.Fatalf("connect to agent: %v\n%s", err, a.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c
}
