package portforward_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/servetest"
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, func() int { return kubetest.Run(m) }))
}

// newPod creates a namespace "pod" with an agent that stays while clients
// come and go (--linger), so several forwarders can use it in turn.
func newPod(t testing.TB) (*agenttest.Pod, *agenttest.Agent) {
	t.Helper()
	agenttest.RequireRoot(t)
	testbin.Dir(t) // points agenttest at the agent binary
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "120s"}})
	return pod, a
}

func staticAgent(a *agenttest.Agent) portforward.AgentSource {
	return portforward.StaticAgent{Address: a.Addr, Token: a.Token, Info: protocol.ClientInfo{Name: "portforward-test"}}
}

// syncBuffer collects the forwarder's report; tests wait for lines in it.
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

// waitFor waits until the buffer holds sub.
func (s *syncBuffer) waitFor(t testing.TB, sub string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(s.String(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the report after %s:\n%s", sub, d, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is a forwarder running in the background.
type running struct {
	*portforward.Forwarder
	report *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs a forwarder until the test ends and waits until it is ready.
func start(t testing.TB, cfg portforward.Config, level int) *running {
	t.Helper()
	buf := &syncBuffer{}
	cfg.Report = portforward.NewReporter(buf, level)
	f, err := portforward.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Forwarder: f, report: buf, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case <-f.Ready():
	case err := <-r.done:
		r.done <- err
		t.Fatalf("forwarder ended before ready: %v\n%s", err, buf.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("forwarder not ready after 60s:\n%s", buf.String())
	}
	return r
}

// stop cancels the run and checks it ends cleanly.
func (r *running) stop(t testing.TB) {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("forwarder: %v\n%s", err, r.report.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("forwarder did not stop 30s after cancel:\n%s", r.report.String())
	}
}

// serveEcho serves echo on ln until the test ends and counts connections.
func serveEcho(t testing.TB, ln net.Listener) *servetest.Server {
	return servetest.Serve(t, ln, func(c net.Conn) { io.Copy(c, c) })
}

// listenIn listens inside a named network namespace (ip netns).
func listenIn(t testing.TB, nsName, addr string) net.Listener {
	t.Helper()
	ns, err := netns.Open("/run/netns/" + nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	ln, err := ns.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// echoOnce sends msg over a new connection to addr, half-closes, and
// returns everything read back.
func echoOnce(addr string, msg []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// podAgents is an AgentSource mapping pods to agents started in network
// namespaces: each new pod (name and UID: a StatefulSet's replacement pod
// has the old name) takes the next unused agent.
type podAgents struct {
	mu       sync.Mutex
	free     []*agenttest.Agent
	assigned map[string]*agenttest.Agent
	order    []string
}

func (p *podAgents) Connect(ctx context.Context, res *resolve.Result) (*protocol.Client, error) {
	if res == nil {
		return nil, fmt.Errorf("podAgents: a targetless run has no pod")
	}
	p.mu.Lock()
	key := res.Pod.Name + "/" + string(res.Pod.UID)
	a := p.assigned[key]
	if a == nil {
		if len(p.free) == 0 {
			p.mu.Unlock()
			return nil, fmt.Errorf("podAgents: no agent left for pod %s", res.Pod.Name)
		}
		a, p.free = p.free[0], p.free[1:]
		p.assigned[key] = a
		p.order = append(p.order, res.Pod.Name)
	}
	p.mu.Unlock()
	return protocol.Dial(ctx, a.Addr, protocol.Options{Token: a.Token, Info: protocol.ClientInfo{Name: "portforward-test"}})
}

func (p *podAgents) pods() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.order...)
}
