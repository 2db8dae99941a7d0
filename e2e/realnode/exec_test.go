package realnode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// config writes a mirrord config for the fixture: its kubeconfig and
// namespace, our agent image, plus extra (merged at the top level).
func (f *fixture) config(t testing.TB, extra map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"kubeconfig": f.kubeconfig,
		"target":     map[string]any{"namespace": f.ns},
		"agent":      map[string]any{"image": f.images.Agent, "startup_timeout": 60},
	}
	for k, v := range extra {
		if m, ok := v.(map[string]any); ok {
			if base, ok := cfg[k].(map[string]any); ok {
				for kk, vv := range m {
					base[kk] = vv
				}
				continue
			}
		}
		cfg[k] = v
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mirrord.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// env is the environment of mirrord commands in these tests.
func (f *fixture) env() []string {
	return []string{"KUBECONFIG=" + f.kubeconfig, "MIRRORD_PROGRESS_MODE=off"}
}

// mirrordExec runs `mirrord exec -f CFG [ARGS...] -- CMD...` to its end.
func (f *fixture) mirrordExec(t testing.TB, cfg string, args []string, cmd ...string) string {
	t.Helper()
	full := append(append([]string{"exec", "-f", cfg}, args...), "--")
	full = append(full, cmd...)
	out, err := run(t, 3*time.Minute, f.env(), mirrordBin(t), full...)
	if err != nil {
		t.Fatalf("mirrord %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return out
}

// lineWith returns the first line of out that starts with prefix, without it.
func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return v
		}
	}
	return ""
}

// probeScript prints the target's environment, a pod-only file, and what
// the orders Service says about who called it (through the pod's DNS and
// network), from a shell, curl, python3 and node.
func probeScript(ns string) string {
	return `echo "greeting=$APP_GREETING"
echo "role=$APP_ROLE"
echo "side=$SIDE_ONLY"
echo "file=$(cat ` + podFile + ` 2>&1)"
echo "curl=$(curl -s --max-time 20 http://orders/cgi-bin/whoami 2>&1)"
python3 -c 'import urllib.request; print("python=" + urllib.request.urlopen("http://orders.` + ns + `/cgi-bin/whoami", timeout=20).read().decode().strip())' 2>&1
node -e 'require("http").get("http://orders.` + ns + `.svc.cluster.local/cgi-bin/whoami", r => { let b = ""; r.on("data", d => b += d); r.on("end", () => console.log("node=" + b.trim())); }).on("error", e => console.log("node=" + e))' 2>&1
`
}

// checkInPod checks a probe's output against the pod it should have run in.
func (f *fixture) checkInPod(t testing.TB, out, role, sourceIP string) {
	t.Helper()
	if g := lineWith(out, "greeting="); g != podGreeting {
		t.Errorf("APP_GREETING = %q, want %q\n%s", g, podGreeting, out)
	}
	if r := lineWith(out, "role="); r != role {
		t.Errorf("APP_ROLE = %q, want %q", r, role)
	}
	if got := lineWith(out, "file="); got != podFileText {
		t.Errorf("pod-only file: %q, want %q", got, podFileText)
	}
	for _, client := range []string{"curl=", "python=", "node="} {
		got := lineWith(out, client)
		if !calledFrom(got, sourceIP) || !strings.Contains(got, "pod="+ordersName+"-") {
			t.Errorf("%s %q, want orders answering a call from %s\n%s", client, got, sourceIP, out)
		}
	}
}

// calledFrom tells whether a whoami answer names ip as the caller (busybox
// httpd writes IPv4 callers as [::ffff:a.b.c.d]).
func calledFrom(answer, ip string) bool {
	return strings.Contains(answer, "remote="+ip+" ") || strings.Contains(answer, "remote=[::ffff:"+ip+"] ")
}

func (f *fixture) podIP(t testing.TB, selector string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := readyPod(ctx, f.c, f.ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status.PodIP
}

// TestExecTargets runs a shell, curl, python3 and node locally in the
// context of each kind of target on the real node.
func TestExecTargets(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, target, selector, role string
		args                         []string
		extra                        map[string]any
	}{
		{name: "deployment", target: "deployment/" + apiName, selector: "app=" + apiName, role: apiName},
		{name: "pod", target: "pod/" + duoName, selector: "app=" + duoName, role: "main-container"},
		{name: "pod-container", target: "pod/" + duoName + "/container/side", selector: "app=" + duoName, role: "side-container"},
		{name: "statefulset", target: "statefulset/" + dbName, selector: "app=" + dbName, role: dbName},
		{name: "job", target: "job/" + batchName, selector: "app=" + batchName, role: batchName},
		{name: "ephemeral", target: "deployment/" + apiName, selector: "app=" + apiName, role: apiName, args: []string{"--ephemeral-container"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config(t, tc.extra)
			args := append([]string{"--target", tc.target}, tc.args...)
			out := f.mirrordExec(t, cfg, args, "sh", "-c", probeScript(f.ns))
			f.checkInPod(t, out, tc.role, f.podIP(t, tc.selector))
			if tc.role == "side-container" && lineWith(out, "side=") != "yes" {
				t.Errorf("container side's SIDE_ONLY missing:\n%s", out)
			}
			f.agentsGone(t, f.ns)
		})
	}
}

// TestExecTargetless: no target's environment, but the cluster's DNS and
// network, from the agent pod's address.
func TestExecTargetless(t *testing.T) {
	f := setup(t)
	// The cluster also has kwok's fake nodes (where nothing runs): the
	// targetless agent, which has no target node, is pinned to the real one.
	cfg := f.config(t, map[string]any{"target": map[string]any{"path": nil},
		"agent": map[string]any{"node_selector": map[string]any{"kubernetes.io/hostname": f.node.Name}}})
	out := f.mirrordExec(t, cfg, []string{"--target", "targetless"}, "sh", "-c", probeScript(f.ns))
	if g := lineWith(out, "greeting="); g != "" {
		t.Errorf("targetless run has the target's APP_GREETING %q", g)
	}
	got := lineWith(out, "curl=")
	if !strings.Contains(got, "pod="+ordersName+"-") || calledFrom(got, f.node.IP) {
		t.Errorf("targetless curl: %q, want orders answering a pod (not the node %s)", got, f.node.IP)
	}
	f.agentsGone(t, f.ns)
}

// session is a running `mirrord exec` whose output is collected.
type session struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startExec starts `mirrord exec` in the background; the test stops it.
func (f *fixture) startExec(t testing.TB, cfg string, args []string, cmd ...string) *session {
	t.Helper()
	full := append(append([]string{"exec", "-f", cfg}, args...), "--")
	return f.startMirrord(t, append(full, cmd...)...)
}

// startMirrord starts the mirrord CLI with args in its own process group,
// collecting its output; it is stopped when the test ends (or by stop).
func (f *fixture) startMirrord(t testing.TB, args ...string) *session {
	t.Helper()
	s := &session{done: make(chan error, 1)}
	s.cmd = exec.Command(mirrordBin(t), args...)
	s.cmd.Env = append(os.Environ(), f.env()...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM to mirrord exec (as Ctrl-C in a terminal would reach
// it) and waits for it, killing the group after a deadline.
func (s *session) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Errorf("mirrord exec did not end within 30 s of SIGTERM:\n%s", s.output())
	}
	s.cmd.ProcessState = &os.ProcessState{}
}

// waitOutput waits until the session's output contains want.
func (s *session) waitOutput(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(s.output(), want) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("mirrord exec ended (%v) before printing %q:\n%s", err, want, s.output())
		case <-deadline:
			t.Fatalf("no %q from mirrord exec within %s:\n%s", want, timeout, s.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// localServer is a python3 HTTP server run under mirrord exec on appPort:
// it answers "from-local PATH" and logs "seen PATH HEADER" for every request.
const localServer = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("seen %s %s" % (self.path, self.headers.get("x-mirrord", "-")), flush=True)
        body = ("from-local %s\n" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("0.0.0.0", 8080), H)
print("listening", flush=True)
s.serve_forever()
`

// fetch asks the orders pod to GET url (with an optional header) and
// returns the body.
func (f *fixture) fetch(t testing.TB, url, header string) string {
	t.Helper()
	h := ""
	if header != "" {
		h = "--header '" + header + "' "
	}
	out, err := f.podExec(t, "deploy/"+ordersName, "wget -qO- "+h+url+" 2>&1")
	if err != nil {
		t.Fatalf("wget %s from orders: %v\n%s", url, err, out)
	}
	return strings.TrimSpace(out)
}

// eventually retries check until it returns "" or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestExecIncoming: steal and mirror of the pod's port, for traffic sent to
// the pod's IP and to the Service's ClusterIP, and a header filter.
func TestExecIncoming(t *testing.T) {
	f := setup(t)
	podIP := f.podIP(t, "app="+apiName)
	urls := map[string]string{"pod IP": "http://" + net.JoinHostPort(podIP, fmt.Sprint(appPort)), "service": "http://" + apiName}

	t.Run("steal", func(t *testing.T) {
		cfg := f.config(t, nil)
		s := f.startExec(t, cfg, []string{"--target", "deployment/" + apiName, "--steal"}, "python3", "-c", localServer)
		s.waitOutput(t, "listening", 2*time.Minute)
		for what, url := range urls {
			eventually(t, 20*time.Second, func() string {
				if got := f.fetch(t, url+"/steal", ""); got != "from-local /steal" {
					return fmt.Sprintf("steal via %s: %q, want the local answer", what, got)
				}
				return ""
			})
		}
		s.stop(t)
		f.agentsGone(t, f.ns)
		f.iptablesClean(t, "app="+apiName)
		if got := f.fetch(t, urls["service"]+"/", ""); !strings.HasPrefix(got, "from-pod "+apiName) {
			t.Fatalf("after the session the pod answers %q", got)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		cfg := f.config(t, nil)
		s := f.startExec(t, cfg, []string{"--target", "deployment/" + apiName}, "python3", "-c", localServer)
		s.waitOutput(t, "listening", 2*time.Minute)
		for what, url := range urls {
			// a query: the pod's httpd serves its index for it
			path := "/?mirror-" + strings.ReplaceAll(what, " ", "-")
			eventually(t, 20*time.Second, func() string {
				if got := f.fetch(t, url+path, ""); !strings.HasPrefix(got, "from-pod "+apiName) {
					return fmt.Sprintf("mirror via %s: the caller got %q, want the pod's own answer", what, got)
				}
				if !strings.Contains(s.output(), "seen "+path) {
					return fmt.Sprintf("mirror via %s: the local process saw no copy:\n%s", what, s.output())
				}
				return ""
			})
		}
		s.stop(t)
		f.agentsGone(t, f.ns)
		f.iptablesClean(t, "app="+apiName)
	})

	t.Run("header-filter", func(t *testing.T) {
		cfg := f.config(t, map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": map[string]any{
			"mode": "steal", "http_filter": map[string]any{"header_filter": "x-mirrord: mine"}}}}})
		s := f.startExec(t, cfg, []string{"--target", "deployment/" + apiName}, "python3", "-c", localServer)
		s.waitOutput(t, "listening", 2*time.Minute)
		eventually(t, 20*time.Second, func() string {
			if got := f.fetch(t, urls["service"]+"/filtered", "x-mirrord: mine"); got != "from-local /filtered" {
				return fmt.Sprintf("matching request: %q, want the local answer", got)
			}
			return ""
		})
		if got := f.fetch(t, urls["service"]+"/?other", "x-mirrord: theirs"); !strings.HasPrefix(got, "from-pod "+apiName) {
			t.Errorf("non-matching request: %q, want the pod's answer", got)
		}
		if got := f.fetch(t, urls["pod IP"]+"/?plain", ""); !strings.HasPrefix(got, "from-pod "+apiName) {
			t.Errorf("request without the header: %q, want the pod's answer", got)
		}
		s.stop(t)
		f.agentsGone(t, f.ns)
		f.iptablesClean(t, "app="+apiName)
	})
}

// TestWrongAgentImage: an agent.image that is not a mirrord-ls agent (here
// the busybox image, which has no mirrord-agent) fails within the startup
// timeout with an error that names agent.image and the image, and leaves
// no agent behind.
func TestWrongAgentImage(t *testing.T) {
	f := setup(t)
	cfg := f.config(t, map[string]any{"agent": map[string]any{"image": f.images.Busybox, "startup_timeout": 30}})
	start := time.Now()
	out, err := run(t, 2*time.Minute, f.env(), mirrordBin(t), "exec", "-f", cfg, "--target", "deployment/"+apiName, "--", "true")
	if err == nil {
		t.Fatalf("mirrord exec with a busybox agent image succeeded:\n%s", out)
	}
	if took := time.Since(start); took > 45*time.Second {
		t.Errorf("the failure took %s; want it within the 30 s startup timeout", took)
	}
	for _, want := range []string{"agent.image", f.images.Busybox} {
		if !strings.Contains(out, want) {
			t.Errorf("the error does not name %q:\n%s", want, out)
		}
	}
	f.agentsGone(t, f.ns)
}
