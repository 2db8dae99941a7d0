package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// ordersHosts names a service only the target's /etc/hosts knows, at the
// pod's own address (reachable only inside the target's network).
func ordersHosts() map[string]string {
	return map[string]string{
		"etc/hosts": "127.0.0.1 localhost\n" + agenttest.PodIP.String() + " orders.internal\n",
	}
}

func TestCurlRemoteName(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	out := s.mustRun(nil, "curl", "-sS", "--max-time", "10", "http://orders.internal/")
	if out != "app: GET /" {
		t.Fatalf("curl got %q, want the target's app answer", out)
	}
}

func TestCurlWithoutLayerCannotResolve(t *testing.T) {
	// The control for TestCurlRemoteName: the name is unknown here.
	out, err := exec.Command("curl", "-sS", "--max-time", "5", "http://orders.internal/").CombinedOutput()
	if err == nil {
		t.Fatalf("curl resolved orders.internal without mirrord: %s", out)
	}
}

func TestRemoteEnvironment(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Env: map[string]string{"REMOTE_ONLY": "from-the-pod", "SHADOWED": "remote"}})
	cfg := map[string]any{"feature": map[string]any{"env": map[string]any{
		"override": map[string]any{"SHADOWED": "override"},
	}}}
	out := s.mustRun(cfg, "python3", "-c", `import os; print(os.environ["REMOTE_ONLY"], os.environ["SHADOWED"])`)
	if strings.TrimSpace(out) != "from-the-pod override" {
		t.Fatalf("got %q", out)
	}
}

func TestRemoteFileWhileBinariesLoadLocally(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: map[string]string{"app/config.yaml": "db: orders\nreplicas: 3\n"}})
	if _, err := os.Stat("/app/config.yaml"); err == nil {
		t.Skip("/app/config.yaml exists on this machine")
	}
	out := s.mustRun(nil, "cat", "/app/config.yaml")
	if out != "db: orders\nreplicas: 3\n" {
		t.Fatalf("cat got %q", out)
	}
	// /usr/bin is local: the ELF header of the local cat, not an error.
	out = s.mustRun(nil, "head", "-c", "4", "/usr/bin/cat")
	if out != "\x7fELF" {
		t.Fatalf("head /usr/bin/cat got %q", out)
	}
	// python: open, stat, exists and a missing remote file.
	out = s.mustRun(nil, "python3", "-c", `
import os
print(open("/app/config.yaml").read().splitlines()[0])
print(os.stat("/app/config.yaml").st_size, os.path.exists("/app/missing"))
`)
	if out != "db: orders\n23 False\n" {
		t.Fatalf("python got %q", out)
	}
}

func TestSkipProcessesLeavesProgramAlone(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: map[string]string{"app/config.yaml": "remote\n"}})
	r := s.run(map[string]any{"skip_processes": "cat"}, "cat", "/app/config.yaml")
	if r.code == 0 || !strings.Contains(r.stderr, "No such file") {
		t.Fatalf("skipped cat read the remote file: code %d, out %q, err %q", r.code, r.stdout, r.stderr)
	}
}

func TestForkedChildJoinsSession(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	out := s.mustRun(nil, "python3", "-c", `
import subprocess, os
r = subprocess.run(["curl", "-sS", "--max-time", "10", "http://orders.internal/child"], capture_output=True, text=True)
print(r.stdout)
pid = os.fork()
if pid == 0:
    import socket
    c = socket.create_connection(("orders.internal", 80), timeout=10)
    c.sendall(b"GET /forked HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        b = c.recv(4096)
        if not b: break
        data += b
    os._exit(0 if data.endswith(b"app: GET /forked") else 3)
_, st = os.waitpid(pid, 0)
print("fork", os.waitstatus_to_exitcode(st))
`)
	if out != "app: GET /child\nfork 0\n" {
		t.Fatalf("got %q", out)
	}
}

func TestNodeFetch(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	out := s.mustRun(nil, "node", "-e", `fetch("http://orders.internal/node").then(r => r.text()).then(t => console.log(t)).catch(e => { console.error(e); process.exit(1) })`)
	if strings.TrimSpace(out) != "app: GET /node" {
		t.Fatalf("got %q", out)
	}
}

func TestOutgoingLocalFilterKeepsTrafficLocal(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "local server")
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	// By default loopback means the pod's loopback, where nothing listens.
	r := s.run(nil, "curl", "-sS", "--max-time", "10", url)
	if r.code == 0 {
		t.Fatalf("without a filter the connection reached the local server: %q", r.stdout)
	}
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"outgoing": map[string]any{
		"filter": map[string]any{"local": []string{fmt.Sprintf(":%d", port)}},
	}}}}
	if out := s.mustRun(cfg, "curl", "-sS", "--max-time", "10", url); out != "local server" {
		t.Fatalf("with a local filter got %q", out)
	}
}
