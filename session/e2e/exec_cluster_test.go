package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod/kubelettest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

// execCluster is a target pod on a fake kubelet's node of the local control
// plane, whose agent (created by `mirrord exec`) the test runs in a network
// namespace.
type execCluster struct {
	t        *testing.T
	c        *kubetest.Cluster
	ns       string
	pod      *agenttest.Pod
	kubelet  *kubelettest.Kubelet
	sessions string
	cfg      string
}

func newExecCluster(t *testing.T, podEnv map[string]string) *execCluster {
	t.Helper()
	agenttest.RequireRoot(t)
	testbin.Dir(t)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: podEnv})
	kubelet := kubelettest.Start(t, "")
	node := kubelet.Node(t, c.Client)
	target := kubetest.Pod("api-0", map[string]string{"app": "api"}, nil, "app")
	target.Spec.NodeName = node
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, target, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := setPodRunning(ctx, c, ns, "api-0"); err != nil {
		t.Fatal(err)
	}
	sessions, err := os.MkdirTemp("/tmp", "msess")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sessions) })
	cfg := filepath.Join(t.TempDir(), "mirrord.json")
	if err := os.WriteFile(cfg, []byte(`{"agent": {"startup_timeout": 30, "image": "registry.test/mirrord-agent:exec"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return &execCluster{t: t, c: c, ns: ns, pod: pod, kubelet: kubelet, sessions: sessions, cfg: cfg}
}

// command is `mirrord exec` as a user types it against a cluster: the
// target and its namespace as flags, the kubeconfig from KUBECONFIG.
func (e *execCluster) command(stdout, stderr *os.File, args ...string) *exec.Cmd {
	full := append([]string{"exec", "-f", e.cfg, "-t", "pod/api-0", "-n", e.ns, "--"}, args...)
	cmd := exec.Command(testbin.Mirrord(e.t), full...)
	cmd.Env = append(environWithout("MIRRORD_AGENT_ADDRESS", "MIRRORD_AGENT_TOKEN", "MIRRORD_CONFIG_FILE", "MIRRORD_TARGET_NAMESPACE"),
		"KUBECONFIG="+e.c.Kubeconfig,
		"MIRRORD_SESSIONS_DIR="+e.sessions,
		"MIRRORD_INTPROXY_LOG="+filepath.Join(e.t.TempDir(), "intproxy.log"),
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd
}

// leftovers are the agent Jobs (not being deleted) and Secrets in the
// namespace.
func (e *execCluster) leftovers(ctx context.Context) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue}
	var out []string
	jobs, err := e.c.Client.BatchV1().Jobs(e.ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			out = append(out, "job/"+j.Name)
		}
	}
	secrets, err := e.c.Client.CoreV1().Secrets(e.ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, s := range secrets.Items {
		out = append(out, "secret/"+s.Name)
	}
	return out, nil
}

func (e *execCluster) agentJobs(ctx context.Context) []string {
	jobs, err := e.c.Client.BatchV1().Jobs(e.ns).List(ctx, metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, j := range jobs.Items {
		out = append(out, j.Name)
	}
	return out
}

// noSessions checks that the session registry is empty.
func (e *execCluster) noSessions() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	infos, err := registry.List(ctx, e.sessions)
	if err != nil || len(infos) != 0 {
		e.t.Errorf("sessions left: %+v %v", infos, err)
	}
}

func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		skip := false
		for _, n := range names {
			skip = skip || n == name
		}
		if !skip {
			env = append(env, kv)
		}
	}
	return env
}

func outputFiles(t *testing.T) (*os.File, *os.File) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close(); errf.Close() })
	return out, errf
}

func read(t *testing.T, f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `mirrord exec -t pod/api-0 -n NS -f CFG -- python3 ...` against the
// control plane: it creates the agent Job on the target's node, connects
// through the API server's pods/portforward, runs python with the target's
// environment and DNS, prints its progress with times, exits with
// python's code, and the Job, the Secret and the session are gone when it
// returns.
func TestExecCreatesAgent(t *testing.T) {
	e := newExecCluster(t, map[string]string{"GREETING": "hello from the cluster"})
	stdout, stderr := outputFiles(t)
	cmd := e.command(stdout, stderr, "python3", "-c", fmt.Sprintf(`
import os, socket, sys
print(os.environ.get("GREETING"))
print(socket.gethostbyname(%q))
sys.exit(7)
`, agenttest.HostsName))
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	runAgentPod(t, e.c, e.ns, e.pod, e.kubelet, done)
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mirrord exec did not end:\n%s", read(t, stderr))
	}
	took := time.Since(t0)
	if cmd.ProcessState.ExitCode() != 7 {
		t.Fatalf("exit %v (%v), want python's 7\nstdout: %s\nstderr: %s", cmd.ProcessState, err, read(t, stdout), read(t, stderr))
	}
	if want := "hello from the cluster\n" + agenttest.PeerIP.String() + "\n"; read(t, stdout) != want {
		t.Errorf("stdout %q, want %q", read(t, stdout), want)
	}
	progress := read(t, stderr)
	t.Logf("mirrord exec took %s; stderr:\n%s", took.Round(time.Millisecond), progress)
	for _, want := range []string{
		"* resolving configuration: config resolved [",
		"* resolving target: pod/api-0/container/app [",
		"* starting agent: agent Job mirrord-agent-",
		"(image registry.test/mirrord-agent:exec) [",
		"* starting agent: agent pod mirrord-agent-",
		"* connecting to agent: connected [",
		"* fetching remote environment: ",
		"* starting internal proxy: internal proxy ready [",
	} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	ctx := context.Background()
	if left, err := e.leftovers(ctx); err != nil || len(left) != 0 {
		t.Errorf("left behind right after mirrord exec returned: %v %v", left, err)
	}
	e.noSessions()
}

// SIGTERM to mirrord exec reaches the command; when it has exited the
// session ends and the agent is deleted.
func TestExecSIGTERMEndsSession(t *testing.T) {
	e := newExecCluster(t, nil)
	stdout, stderr := outputFiles(t)
	cmd := e.command(stdout, stderr, "python3", "-u", "-c", `
import signal, sys, time
def term(*_):
    print("got TERM")
    sys.exit(3)
signal.signal(signal.SIGTERM, term)
print("running")
time.sleep(120)
`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	runAgentPod(t, e.c, e.ns, e.pod, e.kubelet, done)
	waitUntil(t, 60*time.Second, "the command to run", func() bool { return strings.Contains(read(t, stdout), "running") })
	if jobs := e.agentJobs(context.Background()); len(jobs) != 1 {
		t.Fatalf("agent jobs while running: %v", jobs)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mirrord exec did not end after SIGTERM:\n%s", read(t, stderr))
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 || read(t, stdout) != "running\ngot TERM\n" {
		t.Fatalf("exit %d, stdout %q\nstderr: %s", code, read(t, stdout), read(t, stderr))
	}
	if left, err := e.leftovers(context.Background()); err != nil || len(left) != 0 {
		t.Errorf("left behind: %v %v", left, err)
	}
	e.noSessions()
}

// A mirrord exec killed with SIGKILL cannot clean up; the command runs
// on, and when it has exited its session's intproxy ends on its own
// (internal_proxy.idle_timeout after the last layer left) and deletes the
// agent Job and Secret.
func TestExecKilledLeavesNoAgent(t *testing.T) {
	e := newExecCluster(t, nil)
	stdout, stderr := outputFiles(t)
	gate := filepath.Join(t.TempDir(), "gate")
	cmd := e.command(stdout, stderr, "python3", "-u", "-c", fmt.Sprintf(`
import os, time
print("running")
while not os.path.exists(%q):
    time.sleep(0.05)
print("done")
`, gate))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	runAgentPod(t, e.c, e.ns, e.pod, e.kubelet, done)
	waitUntil(t, 60*time.Second, "the command to run", func() bool { return strings.Contains(read(t, stdout), "running") })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	time.Sleep(500 * time.Millisecond)
	if jobs := e.agentJobs(context.Background()); len(jobs) != 1 {
		t.Fatalf("the session's agent should still serve the command: jobs %v", jobs)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the command to finish", func() bool { return strings.Contains(read(t, stdout), "done") })
	t0 := time.Now()
	kubetest.Eventually(t, 60*time.Second, "the agent Job and Secret removed by the intproxy", func(ctx context.Context) (bool, error) {
		left, err := e.leftovers(ctx)
		return err == nil && len(left) == 0, err
	})
	t.Logf("agent removed %s after the orphaned command exited", time.Since(t0).Round(time.Millisecond))
	e.noSessions()
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
