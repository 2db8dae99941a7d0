package realnode

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// TestPortForward: -L to a Service name resolved in the cluster, -R with
// steal, and self-healing: after the target pod is deleted, new
// connections work again through the replacement pod and a new agent,
// without restarting the command.
func TestPortForward(t *testing.T) {
	f := setup(t)
	local := freePort(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "from-local %s\n", r.URL.Path)
	})}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", local))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	lport := freePort(t)
	cfg := f.config(t, map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": "steal"}}})
	s := f.startMirrord(t, "port-forward", "-f", cfg, "-t", "deployment/"+apiName,
		"-L", fmt.Sprintf("%d:%s:80", lport, ordersName), "-R", fmt.Sprintf("%d:%d", appPort, local))
	s.waitOutput(t, "-R ", 2*time.Minute)
	s.waitOutput(t, "ready", 2*time.Minute)

	check := func(round string) {
		podIP := f.podIP(t, "app="+apiName)
		eventually(t, 60*time.Second, func() string {
			got, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/whoami", lport))
			if err != nil || !calledFrom(got, podIP) {
				return fmt.Sprintf("%s: -L to orders: %q %v, want a call from the api pod %s\n%s", round, got, err, podIP, s.output())
			}
			return ""
		})
		eventually(t, 60*time.Second, func() string {
			if got := f.fetch(t, "http://"+apiName+"/"+round, ""); got != "from-local /"+round {
				return fmt.Sprintf("%s: -R steal: the caller got %q\n%s", round, got, s.output())
			}
			return ""
		})
	}
	check("first")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f.replacePod(t, ctx, "app="+apiName)
	check("second")
	s.stop(t)
	f.agentsGone(t, f.ns)
	f.iptablesClean(t, "app="+apiName)
}

// echoOnce sends msg on a new connection to port and returns what comes
// back before the far end closes (msg ends the request with a newline;
// the write side is then closed).
func echoOnce(port int, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestPortForwardPodLoopback: -L to the target pod's own loopback goes
// straight through the kubelet's port-forward to the pod (as kubectl
// port-forward does, not through the agent), and follows the target to its
// replacement pod when the pod is deleted.
func TestPortForwardPodLoopback(t *testing.T) {
	f := setup(t)
	lport := freePort(t)
	s := f.startMirrord(t, "port-forward", "-v", "-f", f.config(t, nil), "-t", "deployment/"+echoName,
		"-L", fmt.Sprintf("%d:localhost:%d", lport, echoPort))
	s.waitOutput(t, "ready", 2*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	check := func(round string) {
		pod, err := readyPod(ctx, f.c, f.ns, "app="+echoName)
		if err != nil {
			t.Fatal(err)
		}
		via := "via port-forward to pod " + f.ns + "/" + pod.Name
		eventually(t, 60*time.Second, func() string {
			msg := "hello " + round + "\n"
			got, err := echoOnce(lport, msg)
			if err != nil || got != msg || !strings.Contains(s.output(), via) {
				return fmt.Sprintf("%s: echo %q %v, want %q %s\n%s", round, got, err, msg, via, s.output())
			}
			return ""
		})
	}
	check("first")
	if strings.Contains(s.output(), "going through the agent") {
		t.Fatalf("a connection fell back to the agent:\n%s", s.output())
	}
	f.replacePod(t, ctx, "app="+echoName)
	check("second")
	s.stop(t)
	f.agentsGone(t, f.ns)
}

// replacePod deletes the ready pod selected by selector at once and waits
// until its controller has a ready replacement.
func (f *fixture) replacePod(t testing.TB, ctx context.Context, selector string) {
	t.Helper()
	old, err := readyPod(ctx, f.c, f.ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if err := f.c.Client.CoreV1().Pods(f.ns).Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() string {
		p, err := readyPod(ctx, f.c, f.ns, selector)
		if err != nil || p.Name == old.Name {
			return "no replacement pod for " + old.Name
		}
		return ""
	})
}
