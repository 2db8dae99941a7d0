package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
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
	// -i: the X-Served-By header is set only by the app in the target's
	// namespace; orders.internal is only in the target's /etc/hosts.
	out := s.mustRun(nil, "curl", "-sS", "-i", "--max-time", "10", "http://orders.internal/")
	if !strings.Contains(out, "X-Served-By: app") || !strings.HasSuffix(out, "\r\n\r\napp: GET /") {
		t.Fatalf("curl got %q, want the target's app answer", out)
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
	if _, err := os.Stat("/app/config.yaml"); err == nil {
		t.Skip("/app/config.yaml exists on this machine")
	}
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

func TestCProbeResolvesConnectsAndForks(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	probe := filepath.Join(t.TempDir(), "probe")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-o", probe, "testdata/probe.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	out := s.mustRun(nil, probe, "orders.internal", "80")
	want := strings.Join([]string{
		"gethostbyname " + agenttest.PodIP.String(),
		"canonname orders.internal",
		"peer " + agenttest.PodIP.String() + ":80",
		"body app: GET /parent",
		"canonname orders.internal",
		"peer " + agenttest.PodIP.String() + ":80",
		"child body app: GET /child",
		"child exit 0",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("probe output:\n%s\nwant:\n%s", out, want)
	}
}

func TestOutgoingUDP(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	out := s.mustRun(nil, "python3", "-c", fmt.Sprintf(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect(("%s", %d))
s.send(b"ping over udp")
print(s.recv(100).decode())
`, agenttest.PodIP, agenttest.AppEchoPort))
	if strings.TrimSpace(out) != "ping over udp" {
		t.Fatalf("got %q", out)
	}
}

func TestWriteModeWritesBack(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: map[string]string{"data/state.txt": "v1"}})
	cfg := map[string]any{"feature": map[string]any{"fs": map[string]any{"mode": "read", "read_write": "^/data/"}}}
	out := s.mustRun(cfg, "python3", "-c", `
old = open("/data/state.txt").read()
with open("/data/state.txt", "w") as f:
    f.write(old + "+v2")
with open("/data/new.txt", "a") as f:
    f.write("created")
print(open("/data/state.txt").read())
`)
	if strings.TrimSpace(out) != "v1+v2" {
		t.Fatalf("python saw %q", out)
	}
	// tee writes with fopen/fclose (libc closes the fd internally)
	if out := s.mustRun(cfg, "sh", "-c", "echo teed | tee /data/tee.txt >/dev/null; cat /data/tee.txt"); out != "teed\n" {
		t.Fatalf("tee/cat saw %q", out)
	}
	for path, want := range map[string]string{"data/state.txt": "v1+v2", "data/new.txt": "created", "data/tee.txt": "teed\n"} {
		got, err := os.ReadFile(filepath.Join(s.pod.Root, path))
		if err != nil || string(got) != want {
			t.Errorf("target's %s = %q (%v), want %q", path, got, err, want)
		}
	}
}

func TestConcurrentThreads(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	out := s.mustRun(nil, "python3", "-c", `
import threading, urllib.request
ok = []
def work(i):
    for j in range(10):
        body = urllib.request.urlopen("http://orders.internal/t%d" % i, timeout=20).read().decode()
        ok.append(body == "app: GET /t%d" % i)
ts = [threading.Thread(target=work, args=(i,)) for i in range(12)]
[t.start() for t in ts]
[t.join() for t in ts]
print(len(ok), all(ok))
`)
	if strings.TrimSpace(out) != "120 True" {
		t.Fatalf("got %q", out)
	}
}

func TestIntproxyGoneFallsBackLocal(t *testing.T) {
	if _, err := os.Stat("/app/config.yaml"); err == nil {
		t.Skip("/app/config.yaml exists on this machine")
	}
	tests := []struct {
		name string
		end  func(t *testing.T, s *session, info registry.Info)
	}{
		{"killed through the session registry", func(t *testing.T, s *session, info registry.Info) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := registry.Kill(ctx, s.sessions, info.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the intproxy to exit", func() bool { return syscall.Kill(info.PID, 0) != nil })
		}},
		{"SIGKILL", func(t *testing.T, s *session, info registry.Info) {
			if err := syscall.Kill(info.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, agenttest.PodOptions{Files: map[string]string{"app/config.yaml": "remote\n"}})
			gate := filepath.Join(t.TempDir(), "go")
			bg := s.start(nil, t.TempDir(), "python3", "-u", "-c", fmt.Sprintf(`
import os, time
print(open("/app/config.yaml").read().strip(), flush=True)
while not os.path.exists(%q):
    time.sleep(0.05)
try:
    open("/app/config.yaml")
    print("still remote")
except FileNotFoundError:
    print("local now")
`, gate))
			waitFor(t, 20*time.Second, "the first remote read", func() bool { return strings.Contains(bg.stdout.String(), "remote") })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			infos, err := registry.List(ctx, s.sessions)
			if err != nil || len(infos) != 1 {
				t.Fatalf("sessions: %v %v", infos, err)
			}
			tt.end(t, s, infos[0])
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			select {
			case <-bg.done:
			case <-time.After(20 * time.Second):
				t.Fatal("the app hung after the intproxy ended")
			}
			if got := bg.stdout.String(); got != "remote\nlocal now\n" {
				t.Fatalf("stdout %q, stderr %q", got, bg.stderr.String())
			}
			if !strings.Contains(bg.stderr.String(), "lost the intproxy") {
				t.Fatalf("no warning on stderr: %q", bg.stderr.String())
			}
		})
	}
}

func TestOwnResolverAsksTargetNameserver(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	// A resolver of its own (like c-ares) sends a query to port 53 of some
	// nameserver; it reaches the target's nameserver (the app's DNS server).
	out := s.mustRun(nil, "python3", "-c", `
import socket, struct
name = b"".join(bytes([len(p)]) + p for p in b"`+agenttest.AppDNSName+`".split(b".")) + b"\0"
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect(("192.0.2.53", 53))
s.send(q)
r = s.recv(512)
print(socket.inet_ntoa(r[-4:]))
`)
	if strings.TrimSpace(out) != agenttest.PeerIP.String() {
		t.Fatalf("got %q, want %v", out, agenttest.PeerIP)
	}
}

func TestRemoteDirectoryListing(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: map[string]string{
		"app/config.yaml": "x", "app/static/index.html": "y", "app/run.sh": "z",
	}})
	if _, err := os.Stat("/app"); err == nil {
		t.Skip("/app exists on this machine")
	}
	out := s.mustRun(nil, "python3", "-c", `
import os
print(sorted(os.listdir("/app")), os.path.isdir("/app/static"), os.path.getsize("/app/config.yaml"))
print(sorted(e.name for e in os.scandir("/app") if e.is_dir()))
`)
	if out != "['config.yaml', 'run.sh', 'static']"+" True 1\n['static']\n" {
		t.Fatalf("python got %q", out)
	}
	if out := s.mustRun(nil, "ls", "/app"); out != "config.yaml\nrun.sh\nstatic\n" {
		t.Fatalf("ls got %q", out)
	}
}

func TestWriteModePathOperations(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: map[string]string{"data/a.txt": "A", "data/b.txt": "B"}})
	cfg := map[string]any{"feature": map[string]any{"fs": map[string]any{"read_write": "^/data/"}}}
	s.mustRun(cfg, "python3", "-c", `
import os
os.mkdir("/data/sub")
os.rename("/data/a.txt", "/data/sub/moved.txt")
os.remove("/data/b.txt")
os.mkdir("/data/gone")
os.rmdir("/data/gone")
`)
	root := s.pod.Root
	if got, err := os.ReadFile(filepath.Join(root, "data/sub/moved.txt")); err != nil || string(got) != "A" {
		t.Fatalf("moved file: %q, %v", got, err)
	}
	for _, gone := range []string{"data/a.txt", "data/b.txt", "data/gone"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still exists in the target (%v)", gone, err)
		}
	}
	// a move between a local and a remote path is EXDEV, which mv handles by copying
	local := filepath.Join(t.TempDir(), "local.txt")
	if err := os.WriteFile(local, []byte("L"), 0o644); err != nil {
		t.Fatal(err)
	}
	mv := s.command(context.Background(), cfg, "mv", "local.txt", "/data/from-local.txt")
	mv.Dir = filepath.Dir(local) // a relative source
	if out, err := mv.CombinedOutput(); err != nil {
		t.Fatalf("mv: %v: %s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(root, "data/from-local.txt")); err != nil || string(got) != "L" {
		t.Fatalf("mv into the target: %q, %v", got, err)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Fatalf("mv left the local file: %v", err)
	}
}

func TestUnixStreamToTarget(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"outgoing": map[string]any{
		"unix_streams": "app\\.sock$",
	}}}}
	// the socket exists only under the target's root
	out := s.mustRun(cfg, "python3", "-c", `
import socket
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(10)
c.connect("/`+agenttest.AppSocket+`")
c.sendall(b"over a unix socket")
print(c.recv(100).decode())
`)
	if strings.TrimSpace(out) != "over a unix socket" {
		t.Fatalf("got %q", out)
	}
}
