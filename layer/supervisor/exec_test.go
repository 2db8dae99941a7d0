package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

// The end-to-end tests run programs under `mirrord exec` against a real
// agent whose target is a network namespace (agent/agenttest), as
// layer/e2e does for the C layer.

// pod is a target with the agent running.
type pod struct {
	t        testing.TB
	pod      *agenttest.Pod
	agent    *agenttest.Agent
	mirrord  string
	sessions string
	tmp      string
	lastLog  string // intproxy log of the last command
}

// targetFiles: a name only the target's /etc/hosts knows (at the pod's
// address, reachable only from the target's network) and a file only the
// target has.
func targetFiles() map[string]string {
	return map[string]string{
		"etc/hosts":       "127.0.0.1 localhost\n" + agenttest.PodIP.String() + " orders.internal\n",
		"app/config.yaml": "db: orders\n",
	}
}

func newPod(t testing.TB) *pod {
	t.Helper()
	agenttest.RequireRoot(t)
	if _, err := os.Stat("/app/config.yaml"); err == nil {
		t.Skip("/app/config.yaml exists on this machine")
	}
	mirrord := testbin.Mirrord(t)
	pd := agenttest.NewPod(t, agenttest.PodOptions{Files: targetFiles(), Env: map[string]string{"REMOTE_ONLY": "from-the-pod"}})
	a := agenttest.StartAgent(t, pd, agenttest.AgentOptions{Extra: []string{"--linger", "30s"}})
	p := &pod{t: t, pod: pd, agent: a, mirrord: mirrord}
	for _, d := range []*string{&p.tmp, &p.sessions} {
		dir, err := os.MkdirTemp("", "sv")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		*d = dir
	}
	return p
}

func (p *pod) command(ctx context.Context, cfg map[string]any, dir string, args ...string) *exec.Cmd {
	p.t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(p.t.TempDir(), "mirrord.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, p.mirrord, append([]string{"exec", "-f", path, "-t", "pod/" + p.pod.Target, "--"}, args...)...)
	cmd.Dir = dir
	p.lastLog = filepath.Join(p.t.TempDir(), "intproxy.log")
	cmd.Env = append(os.Environ(),
		"TMPDIR="+p.tmp,
		"MIRRORD_AGENT_ADDRESS="+p.agent.Addr,
		"MIRRORD_AGENT_TOKEN="+p.agent.Token,
		"MIRRORD_SESSIONS_DIR="+p.sessions,
		"MIRRORD_INTPROXY_LOG="+p.lastLog,
		"no_proxy=*", "NO_PROXY=*",
	)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs args under mirrord exec; it fails the test on a non-zero exit.
func (p *pod) run(cfg map[string]any, args ...string) (stdout, stderr string) {
	p.t.Helper()
	return p.runEnv(cfg, nil, args...)
}

// runEnv is run with extra environment variables for mirrord exec.
func (p *pod) runEnv(cfg map[string]any, env []string, args ...string) (stdout, stderr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := p.command(ctx, cfg, "", args...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("mirrord exec %v: %v\nstdout: %s\nstderr: %s\nagent log:\n%s", args, err, out.String(), errb.String(), p.agent.Log())
	}
	return out.String(), errb.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// steal runs a server under mirrord exec with incoming steal, waits until
// it listens, and returns what the peer gets from the target's port.
func (p *pod) steal(port int, path string, args ...string) string {
	p.t.Helper()
	got, _ := p.incoming(stealCfg(), port, path, func(got, _ string) bool { return strings.Contains(got, "local") }, args...)
	return got
}

// stealCfg is the config of an incoming steal.
func stealCfg() map[string]any {
	return map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": "steal"}}}
}

// mirror runs a server under mirrord exec mirroring the target's port
// (mapped from 8080) and returns what the peer got and what the local
// server printed once it printed "request PATH".
func (p *pod) mirror(port int, path string, args ...string) (string, string) {
	p.t.Helper()
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": map[string]any{
		"mode": "mirror", "port_mapping": [][]int{{8080, port}},
	}}}}
	return p.incoming(cfg, port, path, func(_, stdout string) bool { return strings.Contains(stdout, "request "+path) }, args...)
}

// incoming runs a server under mirrord exec with cfg and has the peer
// request the target's port until done(answer, server's stdout) holds.
func (p *pod) incoming(cfg map[string]any, port int, path string, done func(got, stdout string) bool, args ...string) (string, string) {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := p.command(ctx, cfg, p.t.TempDir(), args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		cancel()
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			p.t.Errorf("%v did not stop", args)
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	url := fmt.Sprintf("http://%s:%d%s", agenttest.PodIP, port, path)
	deadline := time.Now().Add(40 * time.Second)
	for {
		// until subscribed, the target's own port answers (or nothing does)
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := p.pod.Curl(cctx, url)
		ccancel()
		if err == nil && done(got, out.String()) {
			return got, out.String()
		}
		select {
		case <-exited:
			p.t.Fatalf("%v exited: stdout %s\nstderr %s", args, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the peer never reached the local server (last %q, %v)\nstdout %s\nstderr %s\nagent log:\n%s", got, err, out.String(), errb.String(), p.agent.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildGoProbe builds testdata/goprobe with cgo off (static) or on.
func buildGoProbe(t testing.TB, static bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goprobe")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/goprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if !static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		cmd.Args = append(cmd.Args[:2], "-ldflags=-linkmode=external", "-o", bin, "./testdata/goprobe")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	use, why := Choose(bin)
	if !use {
		t.Fatalf("Choose(%s) = false: %s", bin, why)
	}
	return bin
}

// lookArgs are goprobe's operations for what a program sees of the
// target: its environment, a name only its /etc/hosts knows, a name only
// its DNS server knows, a service only its network reaches, a file only
// it has.
var lookArgs = []string{"env=REMOTE_ONLY", "lookup=orders.internal", "lookup=" + agenttest.AppDNSName,
	"get=http://orders.internal/go", "cat=/app/config.yaml", "stat=/app/config.yaml", "ls=/app"}

func lookWant() string {
	return strings.Join([]string{
		"env REMOTE_ONLY from-the-pod",
		"lookup orders.internal " + agenttest.PodIP.String(),
		"lookup " + agenttest.AppDNSName + " " + agenttest.PeerIP.String(),
		"get app app: GET /go",
		`cat "db: orders\n"`,
		"stat 11",
		"ls config.yaml",
	}, "\n") + "\n"
}

func testGoProgram(t *testing.T, static bool) {
	p := newPod(t)
	bin := buildGoProbe(t, static)
	out, errOut := p.run(nil, append([]string{bin}, lookArgs...)...)
	if out != lookWant() {
		t.Fatalf("goprobe:\n%s\nwant:\n%s\nstderr: %s", out, lookWant(), errOut)
	}
	if !strings.Contains(errOut, "under the seccomp supervisor") {
		t.Errorf("mirrord exec did not say it used the supervisor: %s", errOut)
	}
	// the server prints the request before it answers; its output reaches
	// the test through a pipe, so wait for the line too
	got, stdout := p.incoming(stealCfg(), 8080, "/stolen", func(got, stdout string) bool {
		return strings.Contains(got, "local") && strings.Contains(stdout, "request /stolen from ")
	}, bin, "serve=:8080")
	if got != "from the local go: /stolen" {
		t.Fatalf("stolen request got %q", got)
	}
	// the Go server sees the real caller, the peer, not the intproxy
	if !strings.Contains(stdout, "request /stolen from "+agenttest.PeerIP.String()+":") {
		t.Fatalf("the stolen request's peer is not the caller:\n%s", stdout)
	}
	if got, _ := p.mirror(agenttest.AppHTTPPort, "/mirrored", bin, "serve=:8080"); got != "app: GET /mirrored" {
		t.Fatalf("mirrored request got %q, want the target's answer", got)
	}
}

func TestStaticGoProgram(t *testing.T) { testGoProgram(t, true) }

// TestLayerModeOverride: layer_mode preload in the config forces the C
// layer, so a static Go program sees only the environment (what the
// supervisor adds); MIRRORD_LAYER_MODE wins over the file.
func TestLayerModeOverride(t *testing.T) {
	p := newPod(t)
	bin := buildGoProbe(t, true)
	args := append([]string{bin}, lookArgs...)
	preload := map[string]any{"layer_mode": "preload"}
	out, errOut := p.run(preload, args...)
	if !strings.HasPrefix(out, "env REMOTE_ONLY from-the-pod\n") || !strings.Contains(out, "cat error") || !strings.Contains(out, "lookup orders.internal error") {
		t.Fatalf("under the C layer the static program saw the target:\n%s", out)
	}
	if !strings.Contains(errOut, "layer_mode is preload") {
		t.Fatalf("no warning: %s", errOut)
	}
	if out, _ := p.runEnv(preload, []string{"MIRRORD_LAYER_MODE=auto"}, args...); out != lookWant() {
		t.Fatalf("MIRRORD_LAYER_MODE=auto over the file's preload:\n%s", out)
	}
}
func TestDynamicGoProgram(t *testing.T) {
	testGoProgram(t, false)
}

// TestCgoResolver: a dynamically linked Go program using glibc's resolver
// (GODEBUG=netdns=cgo) — getaddrinfo reading the target's /etc/hosts and
// asking its DNS server, from inside the supervised process.
func TestCgoResolver(t *testing.T) {
	p := newPod(t)
	bin := buildGoProbe(t, false)
	out, errOut := p.runEnv(nil, []string{"GODEBUG=netdns=cgo+2"}, bin, "lookup=orders.internal", "lookup="+agenttest.AppDNSName)
	want := "lookup orders.internal " + agenttest.PodIP.String() + "\nlookup " + agenttest.AppDNSName + " " + agenttest.PeerIP.String() + "\n"
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s\nstderr: %s", out, want, errOut)
	}
	if !strings.Contains(errOut, "cgo") {
		t.Fatalf("the cgo resolver was not used:\n%s", errOut)
	}
}

func TestStaticBusybox(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox")
	}
	if use, why := Choose(bb); !use {
		t.Skipf("busybox is not static: %s", why)
	}
	p := newPod(t)
	out, _ := p.run(nil, bb, "sh", "-c", `
env | grep '^REMOTE_ONLY='
busybox nslookup `+agenttest.AppDNSName+` | grep -A1 '^Name:' | tail -n1
busybox wget -q -O - http://orders.internal/bb; echo
busybox cat /app/config.yaml`)
	want := "REMOTE_ONLY=from-the-pod\nAddress: " + agenttest.PeerIP.String() + "\napp: GET /bb\ndb: orders\n"
	if out != want {
		t.Fatalf("busybox:\n%s\nwant:\n%s", out, want)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stolen.txt"), []byte("local busybox"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := p.steal(8080, "/stolen.txt", bb, "httpd", "-f", "-p", "8080", "-h", dir); got != "local busybox" {
		t.Fatalf("stolen request got %q", got)
	}
}

// TestNoLeakedFDsInIntproxy: over 10,000 notified calls answered by the
// real intproxy and agent — 3,400 times a remote open, a remote stat and
// a remote connection — leave the intproxy's fd count where it was.
func TestNoLeakedFDsInIntproxy(t *testing.T) {
	p := newPod(t)
	bin := buildGoProbe(t, true)
	dir := t.TempDir()
	mark1, go1, mark2 := filepath.Join(dir, "m1"), filepath.Join(dir, "g1"), filepath.Join(dir, "m2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := p.command(ctx, nil, dir, bin, "get=http://orders.internal/warm", "mark="+mark1, "wait="+go1,
		"loop=3400,http://orders.internal/loop,/app/config.yaml", "mark="+mark2, "wait="+go1+"2")
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = os.WriteFile(go1+"2", nil, 0o644)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	waitFile := func(path string, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			if _, err := os.Stat(path); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nstdout %s\nstderr %s", path, out.String(), errb.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFile(mark1, 60*time.Second)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	infos, err := registry.List(ctx2, p.sessions)
	cancel2()
	if err != nil || len(infos) != 1 {
		t.Fatalf("sessions: %v %v", infos, err)
	}
	pid := infos[0].PID
	before := fdCount(t, pid)
	if err := os.WriteFile(go1, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(mark2, 4*time.Minute)
	if !strings.Contains(out.String(), "loop 3400 ok") {
		t.Fatalf("loop: %s\nstderr %s", out.String(), errb.String())
	}
	// the relays of the last connections end as the agent closes them
	var after int
	deadline := time.Now().Add(15 * time.Second)
	for {
		after = fdCount(t, pid)
		if after <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if after > before {
		t.Fatalf("the intproxy had %d fds before the loop, %d after", before, after)
	}
	t.Logf("intproxy fds: %d before, %d after", before, after)
}

func fdCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDebuggerLaunchesStaticGoProgram: dlv (a Go program, so it runs
// under the supervisor) launches a static Go program with mirrord's
// environment; dlv itself is skipped (skip_processes: it says hello, is
// told to skip, and its calls run natively) while the debuggee, its
// child under ptrace, sees the target. dlv comes from $MIRRORD_TEST_DLV or
// PATH (`go install github.com/go-delve/delve/cmd/dlv@latest`).
func TestDebuggerLaunchesStaticGoProgram(t *testing.T) {
	dlv := os.Getenv("MIRRORD_TEST_DLV") // make test-go builds it
	if dlv == "" {
		var err error
		if dlv, err = exec.LookPath("dlv"); err != nil {
			t.Skip("no dlv (set MIRRORD_TEST_DLV; make test-go builds one)")
		}
	} else if _, err := os.Stat(dlv); err != nil {
		t.Fatalf("MIRRORD_TEST_DLV: %v", err)
	}
	p := newPod(t)
	bin := buildGoProbe(t, true)
	initFile := filepath.Join(t.TempDir(), "dlv-init")
	if err := os.WriteFile(initFile, []byte("continue\nexit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"skip_processes": "dlv"}
	args := append([]string{dlv, "exec", "--check-go-version=false", "--allow-non-terminal-interactive=true",
		"--init", initFile, bin, "--"}, lookArgs...)
	out, errOut := p.run(cfg, args...)
	for _, line := range strings.Split(lookWant(), "\n") {
		if !strings.Contains(out, line) {
			t.Fatalf("the debuggee did not see %q:\nstdout:\n%s\nstderr:\n%s", line, out, errOut)
		}
	}
	if !strings.Contains(out, "has exited with status 0") {
		t.Fatalf("dlv did not run the program to its end:\n%s", out)
	}
	log, err := os.ReadFile(p.lastLog)
	if err != nil || !strings.Contains(string(log), "skipping process") || !strings.Contains(string(log), "name=dlv") {
		t.Fatalf("the intproxy did not skip dlv (%v):\n%s", err, log)
	}
	t.Logf("dlv output:\n%s", out)
}

// TestWriteModeAndUnixStream: busybox in write mode creates, renames and
// removes files in the target (mkdir, rename, unlink notified and done by
// the intproxy; the new file written back when the shell exits), and a
// Go program's unix stream connection matching unix_streams reaches a
// socket only the target has.
func TestWriteModeAndUnixStream(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox")
	}
	p := newPod(t)
	for name, content := range map[string]string{"data/a.txt": "A", "data/b.txt": "B"} {
		path := filepath.Join(p.pod.Root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := map[string]any{"feature": map[string]any{"fs": map[string]any{"read_write": "^/data/"}}}
	p.run(cfg, bb, "sh", "-c", "mkdir /data/sub && mv /data/a.txt /data/sub/moved.txt && rm /data/b.txt && echo new > /data/new.txt")
	for name, want := range map[string]string{"data/sub/moved.txt": "A", "data/new.txt": "new\n"} {
		if got, err := os.ReadFile(filepath.Join(p.pod.Root, name)); err != nil || string(got) != want {
			t.Errorf("target's %s: %q, %v; want %q", name, got, err, want)
		}
	}
	for _, gone := range []string{"data/a.txt", "data/b.txt"} {
		if _, err := os.Stat(filepath.Join(p.pod.Root, gone)); !os.IsNotExist(err) {
			t.Errorf("target's %s still exists (%v)", gone, err)
		}
	}
	bin := buildGoProbe(t, true)
	cfg = map[string]any{"feature": map[string]any{"network": map[string]any{"outgoing": map[string]any{"unix_streams": "app\\.sock$"}}}}
	if out, _ := p.run(cfg, bin, "unix=/"+agenttest.AppSocket); out != "unix over a unix socket\n" {
		t.Fatalf("unix stream: %q", out)
	}
}

// TestSupervisorForAnyProgram: with layer_mode supervisor, programs the C
// layer would serve — curl (glibc's resolver reading the target's
// /etc/hosts) and python, and a shell script starting them — see the
// target without LD_PRELOAD.
func TestSupervisorForAnyProgram(t *testing.T) {
	for _, bin := range []string{"curl", "python3", "sh"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("no %s", bin)
		}
	}
	p := newPod(t)
	cfg := map[string]any{"layer_mode": "supervisor"}
	out, errOut := p.run(cfg, "sh", "-c", `echo "preload=$LD_PRELOAD"
curl -sS --max-time 10 http://orders.internal/curl; echo
python3 -c 'import os; print(open("/app/config.yaml").read().strip(), os.environ["REMOTE_ONLY"])'`)
	want := "preload=\napp: GET /curl\ndb: orders from-the-pod\n"
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s\nstderr: %s", out, want, errOut)
	}
}

// TestUnconnectedUDPDNS: a static Go program asking the target's
// nameserver (from the target's resolv.conf) over an unconnected UDP
// socket — sendto and recvfrom, as musl's resolver does — gets the
// target's answer, reported as coming from the nameserver itself (not
// the intproxy's interceptor), so a resolver that checks the source
// accepts it.
func TestUnconnectedUDPDNS(t *testing.T) {
	p := newPod(t)
	bin := buildGoProbe(t, true)
	out, errOut := p.run(nil, bin, "dnsudp="+agenttest.AppDNSName)
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "dnsudp ") {
			line = l
		}
	}
	f := strings.Fields(line)
	// dnsudp NAME IPS from SRC ns NS
	if len(f) != 7 || f[2] != agenttest.PeerIP.String() || f[4] != f[6]+":53" {
		t.Fatalf("got %q, want the target's answer %s from its nameserver\nstdout: %s\nstderr: %s", line, agenttest.PeerIP, out, errOut)
	}
}

// TestWrittenFileAtLastClose: a read_write file a supervised program
// writes and closes is in the target when it is closed, not only when
// the program exits (close is not notified: the intproxy sees the last
// close of the program's file description).
func TestWrittenFileAtLastClose(t *testing.T) {
	p := newPod(t)
	if err := os.MkdirAll(filepath.Join(p.pod.Root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildGoProbe(t, true)
	dir := t.TempDir()
	mark, release := filepath.Join(dir, "written"), filepath.Join(dir, "go")
	cfg := map[string]any{"feature": map[string]any{"fs": map[string]any{"read_write": "^/data/"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.command(ctx, cfg, dir, bin, "write=/data/w.txt,written by the program", "mark="+mark, "wait="+release)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = os.WriteFile(release, nil, 0o644)
		<-done
	}()
	target := filepath.Join(p.pod.Root, "data/w.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := os.ReadFile(target)
		if string(got) == "written by the program" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target's file is %q while the program still runs\nstdout: %s\nstderr: %s", got, out.String(), errb.String())
		}
		select {
		case err := <-done:
			t.Fatalf("the program exited before the file was written back: %v\n%s%s", err, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := os.Stat(mark); err != nil {
		// the file arrived before the program even finished the close
		t.Logf("written back before the mark: %v", err)
	}
}
