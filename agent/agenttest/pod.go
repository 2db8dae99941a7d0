package agenttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Addresses of the veth pair between the target and the peer namespace.
// The range is used only inside namespaces the fixture creates.
var (
	PodIP  = netip.MustParseAddr("10.213.0.1")
	PeerIP = netip.MustParseAddr("10.213.0.2")
)

// Pod is a target "pod": a network namespace with an app process, a root
// directory, and a peer namespace on the other end of a veth pair.
type Pod struct {
	// Target and Peer are the names of the namespaces (ip netns).
	Target, Peer string
	// Root is the pod's root directory (etc/hosts, etc/resolv.conf, files).
	Root string
	// AppPID is the PID of the app process inside Target.
	AppPID int
	// AppEnv is the environment given to the app on top of a minimal base.
	AppEnv map[string]string

	t   testing.TB
	app *exec.Cmd
}

// PodOptions customise NewPod.
type PodOptions struct {
	// Env is added to the app's environment.
	Env map[string]string
	// Files are written under the root (path relative to root -> content).
	Files map[string]string
}

// HostsName resolves through the pod's /etc/hosts only.
const HostsName = "peer-only.test"

// NewPod creates the namespaces, the root and the app, and registers their
// removal and the leftover checks with t.Cleanup.
func NewPod(t testing.TB, opts PodOptions) *Pod {
	t.Helper()
	RequireRoot(t)
	id := randomHex(3)
	p := &Pod{Target: "mlt" + id + "t", Peer: "mlt" + id + "p", Root: t.TempDir(), AppEnv: opts.Env, t: t}
	// Registered first, so it runs last: after the agent, app and
	// namespaces are gone.
	t.Cleanup(func() { p.assertGone() })

	files := map[string]string{
		"etc/hosts":       "127.0.0.1 localhost\n" + PeerIP.String() + " " + HostsName + "\n",
		"etc/resolv.conf": "nameserver 127.0.0.1\nsearch cluster.test\noptions ndots:2 timeout:2 attempts:1\n",
		"run/.keep":       "",
	}
	for k, v := range opts.Files {
		files[k] = v
	}
	for rel, content := range files {
		path := filepath.Join(p.Root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	vethT, vethP := "mlt"+id+"a", "mlt"+id+"b"
	t.Cleanup(p.removeNamespaces)
	steps := [][]string{
		{"netns", "add", p.Target},
		{"netns", "add", p.Peer},
		{"link", "add", vethT, "netns", p.Target, "type", "veth", "peer", "name", vethP, "netns", p.Peer},
		{"-n", p.Target, "addr", "add", PodIP.String() + "/30", "dev", vethT},
		{"-n", p.Peer, "addr", "add", PeerIP.String() + "/30", "dev", vethP},
		{"-n", p.Target, "link", "set", "lo", "up"},
		{"-n", p.Peer, "link", "set", "lo", "up"},
		{"-n", p.Target, "link", "set", vethT, "up"},
		{"-n", p.Peer, "link", "set", vethP, "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	p.startApp()
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *Pod) startApp() {
	t := p.t
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", p.Target, exe)
	cmd.Env = []string{
		envRole + "=app",
		"AGENTTEST_ROOT=" + p.Root,
		"AGENTTEST_PEER_IP=" + PeerIP.String(),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	for k, v := range p.AppEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.app, p.AppPID = cmd, cmd.Process.Pid
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				break
			}
		}
		ready <- false
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("app in %s exited before ready: %s", p.Target, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("app in %s not ready after 30s: %s", p.Target, stderr.String())
	}
}

// StopApp kills the app process (the target "exits").
func (p *Pod) StopApp() {
	_ = p.app.Process.Kill()
	_ = p.app.Wait()
}

// ExecPeer runs a command inside the peer ("third") namespace.
func (p *Pod) ExecPeer(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.Peer, name}, args...)...).CombinedOutput()
}

// ExecTarget runs a command inside the target namespace.
func (p *Pod) ExecTarget(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.Target, name}, args...)...).CombinedOutput()
}

// Curl runs curl in the peer namespace against the pod's port 80 and
// returns its output (body; with -i also headers).
func (p *Pod) Curl(ctx context.Context, args ...string) (string, error) {
	base := []string{"-sS", "--max-time", "10", "--noproxy", "*"}
	out, err := p.ExecPeer(ctx, "curl", append(base, args...)...)
	return string(out), err
}

// Chains lists the agent chains (prefix MRDLS_) in the target's nat table.
func (p *Pod) Chains() ([]string, error) {
	out, err := exec.Command("ip", "netns", "exec", p.Target, "iptables", "-w", "5", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("iptables -S in %s: %v: %s", p.Target, err, out)
	}
	var chains []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(line, "-N "); ok && strings.HasPrefix(name, "MRDLS_") {
			chains = append(chains, name)
		}
	}
	return chains, nil
}

func (p *Pod) removeNamespaces() {
	if left, err := p.Redirections(); err == nil && left != "" {
		p.t.Errorf("%s left in %s after the agent stopped", left, p.Target)
	}
	for _, ns := range []string{p.Target, p.Peer} {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
			p.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

func (p *Pod) assertGone() {
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	for _, ns := range []string{p.Target, p.Peer} {
		if strings.Contains(string(out), ns) {
			p.t.Errorf("namespace %s left behind", ns)
		}
	}
	if p.AppPID != 0 && processAlive(p.AppPID) {
		p.t.Errorf("app process %d left behind", p.AppPID)
	}
}

// WaitGone fails t unless pid ends (exits or is a zombie) within 15 s.
func WaitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d still runs", pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// FakeContainer makes the app look like a container with a random 64-hex id
// to `--container-id`: it moves the app into a new cgroup named after the
// id (in the first writable cgroup hierarchy) and returns the id. The cgroup
// is removed at cleanup. The test is skipped when no hierarchy is writable.
func (p *Pod) FakeContainer(t testing.TB) string {
	t.Helper()
	id := randomHex(32)
	for _, base := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		dir := filepath.Join(base, "mirrordtest-"+id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(p.AppPID)), 0o644); err != nil {
			os.Remove(dir)
			continue
		}
		t.Cleanup(func() {
			// Move the app back (if still alive) so the cgroup can go.
			_ = os.WriteFile(filepath.Join(base, "cgroup.procs"), []byte(fmt.Sprint(p.AppPID)), 0o644)
			if err := os.Remove(dir); err != nil {
				t.Errorf("remove test cgroup: %v", err)
			}
		})
		return id
	}
	t.Skip("no writable cgroup hierarchy to fake a container in")
	return ""
}
