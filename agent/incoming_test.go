package agent_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent"
	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

var podURL = "http://" + agenttest.PodIP.String()

// serveStolen answers every stolen connection or request of sub with body
// "stolen: <path>" until ctx ends.
func serveStolen(ctx context.Context, t *testing.T, sub *protocol.Subscription) {
	go func() {
		for {
			in, err := sub.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				if in.Info.Mode != protocol.ModeSteal {
					t.Errorf("incoming mode %q, want steal", in.Info.Mode)
					return
				}
				// Unfiltered steal carries the raw connection; a filtered one
				// exactly one request. Both start with an HTTP request here.
				for {
					req, err := in.ReadRequest()
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					body := "stolen: " + req.URL.Path
					fmt.Fprintf(in, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Served-By: client\r\n\r\n%s", len(body), body)
					if in.Info.HTTP {
						in.CloseWrite()
						return
					}
				}
			}()
		}
	}()
}

// openNetns opens the network namespace name (a Pod's Target or Peer) for
// the rest of the test.
func openNetns(t testing.TB, name string) netns.Namespace {
	t.Helper()
	ns, err := netns.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// steal subscribes c to an unfiltered steal of port and answers its
// connections with serveStolen.
func steal(ctx context.Context, t *testing.T, c *protocol.Client, port uint16) *protocol.Subscription {
	t.Helper()
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: port, Mode: protocol.ModeSteal})
	if err != nil {
		t.Fatal(err)
	}
	serveStolen(ctx, t, sub)
	return sub
}

// answer is what a GET of path answers through a port subscribed in mode
// when the stealer serves it with serveStolen: the client's answer for a
// steal, the app's for a mirror.
func answer(mode protocol.Mode, path string) string {
	if mode == protocol.ModeSteal {
		return "stolen: " + path
	}
	return "app: GET " + path
}

// redirects are the agent arguments of each way of steering (see
// agent.Config.Redirect).
var redirects = []struct {
	name string
	args []string
}{
	{"sk_lookup", nil},
	{"iptables", []string{"--redirect", "iptables"}},
}

// waitChains waits until something of the agent that steers connections
// (its iptables chains or its sk_lookup link) is in the pod's namespace
// (want), or nothing is.
func waitChains(t *testing.T, pod *agenttest.Pod, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, err := pod.Redirections()
		if err != nil {
			t.Fatal(err)
		}
		if (left != "") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redirections %q after 10s, want present=%v", left, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSteal(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)

	if out, err := pod.Curl(ctx, podURL+"/before"); err != nil || out != "app: GET /before" {
		t.Fatalf("before subscribing: %q, %v", out, err)
	}
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal})
	if err != nil {
		t.Fatal(err)
	}
	waitChains(t, pod, true)
	serveStolen(ctx, t, sub)
	// From the peer ("third") namespace, through PREROUTING.
	if out, err := pod.Curl(ctx, podURL+"/x", podURL+"/y"); err != nil || out != "stolen: /xstolen: /y" {
		t.Fatalf("stolen from the peer: %q, %v\n%s", out, err, a.Log())
	}
	// From inside the pod itself, through OUTPUT on lo.
	if out, err := pod.ExecTarget(ctx, "curl", "-sS", "--max-time", "10", "http://127.0.0.1/local"); err != nil || string(out) != "stolen: /local" {
		t.Fatalf("stolen from inside the pod: %q, %v", out, err)
	}
	// A second unfiltered stealer is refused.
	c2 := a.Client(t)
	if _, err := c2.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal}); err == nil {
		t.Fatal("second unfiltered steal accepted")
	}
	sub.Close()
	waitChains(t, pod, false)
	if out, err := pod.Curl(ctx, podURL+"/after"); err != nil || out != "app: GET /after" {
		t.Fatalf("after unsubscribing: %q, %v", out, err)
	}
}

func TestMirror(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeMirror})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pod.Curl(ctx, "-H", "X-Trace: 42", podURL+"/mirrored")
	if err != nil || out != "app: GET /mirrored" {
		t.Fatalf("the app must still answer: %q, %v", out, err)
	}
	in, err := sub.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Info.Mode != protocol.ModeMirror || !strings.HasSuffix(in.Info.Local, ":80") {
		t.Fatalf("incoming info %+v", in.Info)
	}
	req, err := in.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Path != "/mirrored" || req.Header.Get("X-Trace") != "42" {
		t.Fatalf("mirrored request %s %s %v", req.Method, req.URL, req.Header)
	}
	// The copy ends when the peer's connection ends.
	if rest, err := io.ReadAll(in); err != nil || len(rest) != 0 {
		t.Fatalf("after the request: %q, %v", rest, err)
	}
}

func TestHTTPFilters(t *testing.T) {
	tests := []struct {
		name   string
		filter protocol.HTTPFilter
		// curl arguments (a keep-alive connection when several URLs) and
		// the expected output.
		args []string
		want string
	}{
		{"header match", protocol.HTTPFilter{Header: "^X-User: alice$"}, []string{"-H", "X-User: alice", podURL + "/a"}, "stolen: /a"},
		{"header case-insensitive", protocol.HTTPFilter{Header: "^x-user: ALICE$"}, []string{"-H", "X-User: alice", podURL + "/a"}, "stolen: /a"},
		{"header no match", protocol.HTTPFilter{Header: "^X-User: alice$"}, []string{"-H", "X-User: bob", podURL + "/b"}, "app: GET /b"},
		{"look-ahead path, keep-alive", protocol.HTTPFilter{Path: "^(?!/health)"}, []string{podURL + "/health", podURL + "/api", podURL + "/health"}, "app: GET /healthstolen: /apiapp: GET /health"},
		{"method", protocol.HTTPFilter{Method: "post"}, []string{podURL + "/get", "--next", "-X", "POST", podURL + "/post"}, "app: GET /getstolen: /post"},
		{"all_of", protocol.HTTPFilter{AllOf: []protocol.HTTPFilter{{Header: "X-User: alice"}, {Path: "^/api"}}},
			[]string{"-H", "X-User: alice", podURL + "/api", podURL + "/web"}, "stolen: /apiapp: GET /web"},
		{"any_of", protocol.HTTPFilter{AnyOf: []protocol.HTTPFilter{{Header: "X-User: alice"}, {Path: "^/api"}}},
			[]string{podURL + "/api", podURL + "/web"}, "stolen: /apiapp: GET /web"},
	}
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal, Filter: &tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			serveStolen(sctx, t, sub)
			out, err := pod.Curl(ctx, tt.args...)
			if err != nil || out != tt.want {
				t.Fatalf("curl %v = %q, %v; want %q\n%s", tt.args, out, err, tt.want, a.Log())
			}
		})
	}
	ctx := testCtx(t)
	if _, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal, Filter: &protocol.HTTPFilter{Path: "(unclosed"}}); err == nil {
		t.Fatal("bad regex accepted")
	}
	waitChains(t, pod, false)
}

// Non-HTTP traffic on a port with a filter passes through to the app.
func TestFilteredPortPassesNonHTTP(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: agenttest.AppEchoPort, Mode: protocol.ModeSteal, Filter: &protocol.HTTPFilter{Path: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	peer := openNetns(t, pod.Peer)
	for _, msg := range []string{"ping\n", "\x16\x03\x01binary"} {
		conn, err := peer.DialContext(ctx, nil, "tcp", fmt.Sprintf("%s:%d", agenttest.PodIP, agenttest.AppEchoPort))
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(msg))
		got := make([]byte, len(msg))
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Fatalf("echo through a filtered port = %q, %v", got, err)
		}
		conn.Close()
	}
	// A silent client passes through after the detection timeout.
	conn, err := peer.DialContext(ctx, nil, "tcp", fmt.Sprintf("%s:%d", agenttest.PodIP, agenttest.AppEchoPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(2500 * time.Millisecond) // longer than the agent's 2 s detection timeout: the point of the test
	conn.Write([]byte("late"))
	got := make([]byte, 4)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != "late" {
		t.Fatalf("echo after detection timeout = %q, %v", got, err)
	}
}

func TestChainsRemovedWhenClientLeaves(t *testing.T) {
	for _, rd := range redirects {
		t.Run(rd.name, func(t *testing.T) {
			pod := agenttest.NewPod(t, agenttest.PodOptions{})
			a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: append([]string{"--linger", "1m"}, rd.args...)})
			c := a.Client(t)
			ctx := testCtx(t)
			if _, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal}); err != nil {
				t.Fatal(err)
			}
			waitChains(t, pod, true)
			c.Close()
			waitChains(t, pod, false)
		})
	}
}

func TestChainsRemovedOnSIGTERM(t *testing.T) {
	for _, rd := range redirects {
		t.Run(rd.name, func(t *testing.T) {
			pod := agenttest.NewPod(t, agenttest.PodOptions{})
			a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: rd.args})
			c := a.Client(t)
			ctx := testCtx(t)
			if _, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeMirror}); err != nil {
				t.Fatal(err)
			}
			waitChains(t, pod, true)
			syscall.Kill(a.PID, syscall.SIGTERM)
			if code := a.Wait(15 * time.Second); code != 0 {
				t.Fatalf("agent exit code %d after SIGTERM\n%s", code, a.Log())
			}
			waitChains(t, pod, false)
		})
	}
}

func TestChainsRemovedWhenWorkerKilled(t *testing.T) {
	for _, rd := range redirects {
		t.Run(rd.name, func(t *testing.T) {
			pod := agenttest.NewPod(t, agenttest.PodOptions{})
			a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: rd.args})
			c := a.Client(t)
			ctx := testCtx(t)
			if _, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal}); err != nil {
				t.Fatal(err)
			}
			waitChains(t, pod, true)
			workers := a.Workers()
			if len(workers) != 1 {
				t.Fatalf("agent workers = %v, want one", workers)
			}
			syscall.Kill(workers[0], syscall.SIGKILL)
			code := a.Wait(15 * time.Second)
			if code == -1 {
				t.Fatal("guard did not exit after its worker was killed")
			}
			waitChains(t, pod, false)
			// The app answers directly again.
			if out, err := pod.Curl(ctx, podURL+"/back"); err != nil || out != "app: GET /back" {
				t.Fatalf("after the worker died: %q, %v", out, err)
			}
		})
	}
}

func TestDirtyChainsAtStart(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	ctx := testCtx(t)
	if out, err := pod.ExecTarget(ctx, "iptables", "-w", "5", "-t", "nat", "-N", "MRDLS_IN_stale"); err != nil {
		t.Fatalf("create stale chain: %v: %s", err, out)
	}
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{NoWait: true})
	if code := a.Wait(30 * time.Second); code != 99 {
		t.Fatalf("agent with stale chains: exit code %d, want 99\n%s", code, a.Log())
	}
	if !strings.Contains(a.Log(), "--clean-iptables-on-start") {
		t.Fatalf("the refusal does not say how to proceed:\n%s", a.Log())
	}
	if chains, _ := pod.Chains(); len(chains) != 1 {
		t.Fatalf("the guard touched chains that are not its own: %v", chains)
	}
	b := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--clean-iptables-on-start"}})
	waitChains(t, pod, false)
	b.Stop()
}

func TestAgentExitsWithTarget(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	_ = a.Client(t)
	pod.StopApp()
	if code := a.Wait(15 * time.Second); code == -1 {
		t.Fatalf("agent still running after the target exited\n%s", a.Log())
	}
	if !strings.Contains(a.Log(), "exited") {
		t.Errorf("log does not say why the agent stopped:\n%s", a.Log())
	}
}

func TestAgentExitsWhenLastClientLeaves(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c1 := a.Client(t)
	c2 := a.Client(t)
	c1.Close()
	if code := a.Wait(500 * time.Millisecond); code != -1 {
		t.Fatalf("agent exited (%d) while a client was still connected", code)
	}
	c2.Close()
	if code := a.Wait(15 * time.Second); code != 0 {
		t.Fatalf("agent after its last client left: exit code %d\n%s", code, a.Log())
	}
}

// A filtered mirror copies only matching requests; the app answers all.
func TestFilteredMirror(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeMirror, Filter: &protocol.HTTPFilter{Path: "^/copy"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pod.Curl(ctx, podURL+"/skip", podURL+"/copy-me")
	if err != nil || out != "app: GET /skipapp: GET /copy-me" {
		t.Fatalf("the app must answer every request: %q, %v", out, err)
	}
	in, err := sub.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if !in.Info.HTTP || in.Info.Mode != protocol.ModeMirror {
		t.Fatalf("incoming info %+v", in.Info)
	}
	req, err := in.ReadRequest()
	if err != nil || req.URL.Path != "/copy-me" {
		t.Fatalf("mirrored request %v, %v", req, err)
	}
	io.Copy(io.Discard, req.Body)
	if rest, err := io.ReadAll(in); err != nil || len(rest) != 0 {
		t.Fatalf("more than the matching request was copied: %q, %v", rest, err)
	}
}

func TestAgentExitsWithoutClient(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--communication-timeout", "500ms"}})
	if code := a.Wait(15 * time.Second); code != 0 {
		t.Fatalf("agent without clients: exit code %d\n%s", code, a.Log())
	}
}

func TestContainerID(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: map[string]string{"IN_CONTAINER": "yes"}})
	id := pod.FakeContainer(t)
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Args: []string{"--container-id", "containerd://" + id, "--root", pod.Root}})
	c := a.Client(t)
	ctx := testCtx(t)
	env, err := c.Env(ctx, protocol.EnvRequest{Include: []string{"IN_CONTAINER"}})
	if err != nil || env["IN_CONTAINER"] != "yes" {
		t.Fatalf("env of the container's process = %v, %v", env, err)
	}
	steal(ctx, t, c, 80)
	if out, err := pod.Curl(ctx, podURL+"/c"); err != nil || out != "stolen: /c" {
		t.Fatalf("steal through --container-id: %q, %v", out, err)
	}
}

// TestChainsOfKilledAgentRemovedByNext kills a whole agent that steers
// with iptables (--redirect iptables, the fallback for kernels without
// sk_lookup; guard and worker in one SIGKILL, as Kubernetes kills a
// container) in the middle of a steal and of a mirror. Nobody removes its
// chains then, and the port refuses connections until the next agent
// starts: that agent finds the chains' recorded owner gone, removes them
// without --clean-iptables-on-start, and the port serves the app again.
// (With sk_lookup, the default, there is no such gap: see
// TestFailOpenWholeAgentKilled.)
func TestChainsOfKilledAgentRemovedByNext(t *testing.T) {
	tests := []struct {
		name   string
		mode   protocol.Mode
		filter *protocol.HTTPFilter
	}{
		{"steal", protocol.ModeSteal, nil},
		{"mirror", protocol.ModeMirror, nil},
		{"filtered steal", protocol.ModeSteal, &protocol.HTTPFilter{Path: "^/before"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := agenttest.NewPod(t, agenttest.PodOptions{})
			ctx := testCtx(t)
			a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{OwnGroup: true, Extra: []string{"--redirect", "iptables"}})
			c := a.Client(t)
			sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: tt.mode, Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if tt.mode == protocol.ModeSteal {
				serveStolen(ctx, t, sub)
			}
			want := answer(tt.mode, "/before")
			if out, err := pod.Curl(ctx, podURL+"/before"); err != nil || out != want {
				t.Fatalf("before the kill: %q, %v; want %q", out, err, want)
			}
			workers := a.Workers()
			if len(workers) != 1 {
				t.Fatalf("agent workers = %v, want one", workers)
			}
			if err := syscall.Kill(-a.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			agenttest.WaitGone(t, a.PID)
			agenttest.WaitGone(t, workers[0])
			a.Wait(15 * time.Second)

			// The gap that remains: the chains outlive the agent and the
			// port refuses connections until the next agent starts.
			if chains, err := pod.Chains(); err != nil || len(chains) == 0 {
				t.Fatalf("chains after SIGKILL of the whole agent = %v, %v; want them left (nobody could remove them)", chains, err)
			}
			out, err := pod.Curl(ctx, podURL+"/gap")
			t.Logf("between the kill and the next agent the port answers %q, %v", out, err)

			// The next agent starts without flags and removes them.
			t0 := time.Now()
			b := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
			t.Logf("the next agent was ready %v after its start", time.Since(t0).Round(time.Millisecond))
			if !strings.Contains(b.Log(), "no longer run") {
				t.Errorf("the next agent did not say why it removed the chains:\n%s", b.Log())
			}
			waitChains(t, pod, false)
			if out, err := pod.Curl(ctx, podURL+"/after"); err != nil || out != "app: GET /after" {
				t.Fatalf("after the next agent started: %q, %v", out, err)
			}
			// And it serves incoming traffic itself.
			steal(ctx, t, b.Client(t), 80)
			if out, err := pod.Curl(ctx, podURL+"/next"); err != nil || out != "stolen: /next" {
				t.Fatalf("steal through the next agent: %q, %v", out, err)
			}
		})
	}
}

// TestChainsOfLiveAgentKept checks that a second agent on a target whose
// agent runs with iptables neither touches its chains nor starts.
func TestChainsOfLiveAgentKept(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	ctx := testCtx(t)
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--redirect", "iptables"}})
	c := a.Client(t)
	steal(ctx, t, c, 80)
	b := agenttest.StartAgent(t, pod, agenttest.AgentOptions{NoWait: true})
	if code := b.Wait(30 * time.Second); code != agent.ExitDirty {
		t.Fatalf("second agent on a target with a live agent: exit code %d, want %d\n%s", code, agent.ExitDirty, b.Log())
	}
	if !strings.Contains(b.Log(), "still runs") {
		t.Errorf("the refusal does not say the owner runs:\n%s", b.Log())
	}
	if out, err := pod.Curl(ctx, podURL+"/still"); err != nil || out != "stolen: /still" {
		t.Fatalf("the first agent's steal after the second agent's refusal: %q, %v", out, err)
	}
	// Stopped here, before the second agent's cleanup checks that no
	// chains are left.
	a.Stop()
}

// TestOutgoingReachesAppWhileStolen: a client that steals port 80 and
// connects out to port 80 of the pod (through the agent) reaches the
// target's own app, not its own steal, with either steering.
func TestOutgoingReachesAppWhileStolen(t *testing.T) {
	for _, rd := range redirects {
		t.Run(rd.name, func(t *testing.T) {
			pod := agenttest.NewPod(t, agenttest.PodOptions{})
			a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: rd.args})
			c := a.Client(t)
			ctx := testCtx(t)
			steal(ctx, t, c, 80)
			if out, err := pod.Curl(ctx, podURL+"/in"); err != nil || out != "stolen: /in" {
				t.Fatalf("incoming while stolen: %q, %v", out, err)
			}
			for _, addr := range []string{"127.0.0.1:80", agenttest.PodIP.String() + ":80"} {
				conn, err := c.DialTCP(ctx, addr)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(conn, "GET /out HTTP/1.0\r\nHost: pod\r\n\r\n")
				got, err := io.ReadAll(conn)
				conn.Close()
				if err != nil || !strings.HasSuffix(string(got), "app: GET /out") {
					t.Fatalf("outgoing to %s while stolen: %q, %v; want the app's answer", addr, got, err)
				}
			}
		})
	}
}

// TestStealIPv6: with sk_lookup a steal covers IPv6 too (the listener is
// dual-stack): a connection to [::1]:80 inside the pod reaches the client,
// though the app itself listens on IPv4 only. The local address the client
// is told is the IPv6 one.
func TestStealIPv6(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	target := openNetns(t, pod.Target)
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	if _, err := httpGet(ctx, target, "http://[::1]:80/v6", time.Second); err == nil {
		t.Fatal("the app answers on [::1]:80 before the steal; the test needs an IPv4-only app")
	}
	sub, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal})
	if err != nil {
		t.Fatal(err)
	}
	locals := make(chan string, 1)
	go func() {
		in, err := sub.Accept(ctx)
		if err != nil {
			return
		}
		defer in.Close()
		locals <- in.Info.Local
		req, err := in.ReadRequest()
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		body := "stolen: " + req.URL.Path
		fmt.Fprintf(in, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		in.CloseWrite()
	}()
	if got, err := httpGet(ctx, target, "http://[::1]:80/v6", 5*time.Second); err != nil || got != "stolen: /v6" {
		t.Fatalf("GET [::1]:80 while stolen: %q, %v\n%s", got, err, a.Log())
	}
	if local := <-locals; local != "[::1]:80" {
		t.Errorf("incoming local address %q, want [::1]:80", local)
	}
}
