package portforward_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/portforward"
)

// peerPort is where tests serve echo in the peer namespace: reachable only
// from inside the target (over its veth), never from the host.
const peerPort = 7777

// TestLocalTargeted forwards to destinations only the target can reach:
// a name only its DNS server knows (through the search domain, like a
// Service name), a name from its /etc/hosts, its own loopback, its pod IP.
func TestLocalTargeted(t *testing.T) {
	pod, a := newPod(t)
	peer := serveEcho(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)))
	// The peer's accept count proves the connections arrived in the peer
	// namespace, which only the target is wired to.
	routes := []portforward.LocalRoute{
		{Host: "db", RemotePort: peerPort},                                  // DNS of the target, search domain
		{Host: agenttest.AppDNSName, RemotePort: peerPort},                  // same, fully qualified
		{Host: agenttest.HostsName, RemotePort: peerPort},                   // the target's /etc/hosts
		{Host: "127.0.0.1", RemotePort: agenttest.AppEchoPort},              // the target's loopback
		{Host: agenttest.PodIP.String(), RemotePort: agenttest.AppHTTPPort}, // the pod IP
	}
	r := start(t, portforward.Config{Routes: portforward.Routes{Local: routes}, Agents: staticAgent(a)}, portforward.Connections)
	for i, route := range routes[:4] {
		t.Run(route.Host, func(t *testing.T) {
			msg := []byte(fmt.Sprintf("hello %d through %s\n", i, route.Host))
			got, err := echoOnce(r.LocalAddr(i).String(), msg)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo = %q, %v; want %q\n%s", got, err, msg, r.report.String())
			}
		})
	}
	t.Run("http to the pod IP", func(t *testing.T) {
		resp, err := http.Get("http://" + r.LocalAddr(4).String() + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "app: GET /hello" || resp.Header.Get("X-Served-By") != "app" {
			t.Fatalf("got %q %v", body, resp.Header)
		}
	})
	if n := peer.Accepted(); n != 3 {
		t.Fatalf("peer accepted %d connections, want 3", n)
	}
	for i := range routes {
		r.report.waitFor(t, fmt.Sprintf("-L %s -> %s ready", r.LocalAddr(i), routes[i].Dest()), time.Second)
	}
}

// TestLocalLazy: a local connection that sends nothing never reaches the
// agent; one that sends is connected then.
func TestLocalLazy(t *testing.T) {
	pod, a := newPod(t)
	peer := serveEcho(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)))
	r := start(t, portforward.Config{Routes: portforward.Routes{Local: []portforward.LocalRoute{{Host: "db", RemotePort: peerPort}}},
		Agents: staticAgent(a)}, portforward.Connections)
	addr := r.LocalAddr(0).String()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// A connection made after the silent one goes all the way through.
	if got, err := echoOnce(addr, []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	if n := peer.Accepted(); n != 1 {
		t.Fatalf("peer accepted %d connections while one local connection was silent; want 1 (lazy)", n)
	}
	silent.Close()
	r.report.waitFor(t, "closed before sending data", 10*time.Second)
	if n := peer.Accepted(); n != 1 {
		t.Fatalf("peer accepted %d connections; the silent one reached it", n)
	}
	// Nothing forwarded: an unknown name fails only when data is sent, and
	// the local client sees a reset.
	r2 := start(t, portforward.Config{Routes: portforward.Routes{Local: []portforward.LocalRoute{{Host: "missing", RemotePort: 1}}},
		Agents: staticAgent(a)}, portforward.Quiet)
	c, err := net.Dial("tcp", r2.LocalAddr(0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read after a failed forward = %v, want connection reset", err)
	}
	r2.report.waitFor(t, "resolve missing in the target", time.Second)
}

// TestLocalTargetless resolves with the agent's own root and connects from
// its own namespace (here, the host's loopback).
func TestLocalTargetless(t *testing.T) {
	testbin.Dir(t) // points agenttest at the agent binary
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 svc.only-agent.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := agenttest.StartAgent(t, nil, agenttest.AgentOptions{Args: []string{"targetless", "--root", root}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, ln)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	r := start(t, portforward.Config{
		Routes: portforward.Routes{Local: []portforward.LocalRoute{{Host: "svc.only-agent.test", RemotePort: port}}},
		Agents: staticAgent(a)}, portforward.Quiet)
	msg := bytes.Repeat([]byte("targetless "), 10000)
	if got, err := echoOnce(r.LocalAddr(0).String(), msg); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	r.report.waitFor(t, "ready (via targetless)", time.Second)

	// -R needs a target: a targetless agent refuses at start.
	f, err := portforward.New(portforward.Config{Routes: portforward.Routes{Remote: []portforward.RemoteRoute{{RemotePort: 80, LocalPort: 3000}}}, Agents: staticAgent(a)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "-R needs a target") {
		t.Fatalf("targetless -R: %v", err)
	}
}

// TestLocalDump: -vv dumps the data both ways.
func TestLocalDump(t *testing.T) {
	_, a := newPod(t)
	r := start(t, portforward.Config{Routes: portforward.Routes{Local: []portforward.LocalRoute{{Host: "127.0.0.1", RemotePort: agenttest.AppEchoPort}}},
		Agents: staticAgent(a)}, portforward.Data)
	if got, err := echoOnce(r.LocalAddr(0).String(), []byte("GET /\r\n\x01")); err != nil || string(got) != "GET /\r\n\x01" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	r.report.waitFor(t, "length=8 from=0 to=7\nGET /\\r\\n\n\\x01\n", 5*time.Second)
	r.report.waitFor(t, "< -L #1 ", 5*time.Second)
}

// TestLocalLoad: 500 concurrent connections, each with its own random data,
// echoed back through the target; every byte must come back intact.
func TestLocalLoad(t *testing.T) {
	_, a := newPod(t)
	r := start(t, portforward.Config{Routes: portforward.Routes{Local: []portforward.LocalRoute{{Host: "127.0.0.1", RemotePort: agenttest.AppEchoPort}}},
		Agents: staticAgent(a)}, portforward.Quiet)
	const conns = 500
	addr := r.LocalAddr(0).String()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := make(chan struct{})
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := 16<<10 + i*97
			msg := make([]byte, size)
			rand.Read(msg)
			want := sha256.Sum256(msg)
			c, err := net.DialTimeout("tcp", addr, 30*time.Second)
			if err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
				return
			}
			defer c.Close()
			<-start
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			go func() {
				c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
			}()
			h := sha256.New()
			n, err := io.Copy(h, c)
			if err != nil || n != int64(size) || !bytes.Equal(h.Sum(nil), want[:]) {
				errs <- fmt.Errorf("conn %d: got %d of %d bytes (checksum match %v), %v", i, n, size, bytes.Equal(h.Sum(nil), want[:]), err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed < 10 {
			t.Error(err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, conns)
	}
}
