package portforward_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

// mirrordBinary is the mirrord CLI under test.
func mirrordBinary(t *testing.T) string { return testbin.Mirrord(t) }

// environWithout is the test's environment without the named variables.
func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cliRun is a running `mirrord port-forward`.
type cliRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

func startCLI(t *testing.T, a *agenttest.Agent, kubeconfig string, args ...string) *cliRun {
	t.Helper()
	cmd := exec.Command(mirrordBinary(t), append([]string{"port-forward"}, args...)...)
	cmd.Env = append(environWithout("MIRRORD_CONFIG_FILE", "KUBECONFIG"),
		"MIRRORD_AGENT_ADDRESS="+a.Addr, "MIRRORD_AGENT_TOKEN="+a.Token, "KUBECONFIG="+kubeconfig)
	run := &cliRun{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = run.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(run.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-run.done
	})
	return run
}

// interrupt sends SIGINT and returns the exit code.
func (c *cliRun) interrupt(t *testing.T) int {
	t.Helper()
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("mirrord port-forward did not exit 20s after SIGINT:\n%s", c.stderr.String())
		return -1
	}
}

// TestCLI runs the real command against a pod target of the local control
// plane (resolved and watched through the kubeconfig) with a pre-started
// agent in the pod's namespace: -L and -R together, the -R mode and filter
// from the config file, -vv, a clean exit on SIGINT; then, in a second run,
// the pod's deletion ends the command with exit code 1.
func TestCLI(t *testing.T) {
	pod, a := newPod(t)
	serveBanner(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)), "peer")
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	c.EnsureNodes(t, 1)
	c.CreatePod(t, ns, kubetest.Pod("api", map[string]string{"app": "api"}, nil, "app"))
	app := newLocalApp(t)
	cfg := filepath.Join(t.TempDir(), "mirrord.yaml")
	yaml := "feature:\n  network:\n    incoming:\n      mode: steal\n      http_filter:\n        header_filter: '^x-user: me$'\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	lport := freePort(t)
	run := startCLI(t, a, c.Kubeconfig, "-t", "pod/api", "-n", ns, "-f", cfg, "-vv",
		"-L", fmt.Sprintf("%d:db:%d", lport, peerPort), "-R", fmt.Sprintf("80:%d", app.port))
	run.stderr.waitFor(t, fmt.Sprintf("-L 127.0.0.1:%d -> db:%d ready (via pod/api (pod %s/api))", lport, peerPort, ns), 60*time.Second)
	run.stderr.waitFor(t, fmt.Sprintf(":80 -> 127.0.0.1:%d ready (steal, HTTP filter)", app.port), 5*time.Second)

	if got, err := ask(fmt.Sprintf("127.0.0.1:%d", lport), "hi"); err != nil || got != "peer: hi" {
		t.Fatalf("-L: %q, %v\n%s", got, err, run.stderr.String())
	}
	url := fmt.Sprintf("http://%s/cli", agenttest.PodIP)
	if got := curl(t, pod, "-H", "X-User: me", url); got != "local: GET /cli" {
		t.Fatalf("-R matching: %q", got)
	}
	app.expect(t, "GET /cli me")
	if got := curl(t, pod, url); got != "app: GET /cli" {
		t.Fatalf("-R not matching: %q", got)
	}
	run.stderr.waitFor(t, "length=3 from=0 to=2\nhi\\n\n", 5*time.Second) // -vv dump of the -L data
	run.stderr.waitFor(t, "GET /cli (Host "+agenttest.PodIP.String()+")", 5*time.Second)
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("exit code %d after SIGINT:\n%s", code, run.stderr.String())
	}

	// A pod target that is deleted ends the command with an error.
	run = startCLI(t, a, c.Kubeconfig, "-t", "pod/api", "-n", ns, "-L", fmt.Sprintf("%d:db:%d", lport, peerPort))
	run.stderr.waitFor(t, "ready", 60*time.Second)
	zero := int64(0)
	if err := c.Client.CoreV1().Pods(ns).Delete(context.Background(), "api", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("still running 60s after its pod was deleted:\n%s", run.stderr.String())
	}
	if code := run.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(run.stderr.String(), "Error: target pod is gone: pod api") {
		t.Fatalf("exit code %d:\n%s", code, run.stderr.String())
	}
}

// TestCLIErrors: bad input exits 1 with a message naming the flag.
func TestCLIErrors(t *testing.T) {
	bin := mirrordBinary(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-L", "db:0"}, `-L "db:0": remote port 0 is not allowed`},
		{[]string{"-L", "8080:a:1", "-L", "8080:b:2"}, `local port 8080 is already forwarded by -L "8080:a:1"`},
		{[]string{"-R", "80:1", "-R", "80:2"}, `remote port 80 is already forwarded`},
		{[]string{"-t", "targetless", "-R", "80"}, "-R needs a target"},
		{[]string{"-t", "pods/x", "-L", "db:1"}, "-t: invalid target path `pods/x`"},
		{[]string{"-L", "db:1", "--address", "localhost"}, `--address "localhost": not an IP address`},
		{nil, "nothing to forward"},
		// No agent.address: an agent is to be created, in no cluster.
		{[]string{"-L", "db:1"}, "cannot load the Kubernetes configuration"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"port-forward"}, tt.args...)...)
			cmd.Env = append(environWithout("MIRRORD_AGENT_ADDRESS", "MIRRORD_AGENT_TOKEN", "MIRRORD_CONFIG_FILE", "KUBECONFIG", "HOME",
				"KUBERNETES_SERVICE_HOST"), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"), "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), tt.want) {
				t.Fatalf("exit %v, output %q; want exit 1 and %q", err, out, tt.want)
			}
		})
	}
}
