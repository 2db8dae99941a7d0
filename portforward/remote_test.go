package portforward_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// localApp is the local HTTP server -R delivers to; it answers
// "local: METHOD PATH" and reports each request it saw.
type localApp struct {
	port uint16
	seen chan string
}

func newLocalApp(t *testing.T) *localApp {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &localApp{port: uint16(ln.Addr().(*net.TCPAddr).Port), seen: make(chan string, 64)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case app.seen <- r.Method + " " + r.URL.Path + " " + r.Header.Get("X-User"):
		default:
		}
		w.Header().Set("X-Served-By", "local")
		fmt.Fprintf(w, "local: %s %s", r.Method, r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return app
}

// expect waits for the local app to see a request.
func (a *localApp) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-a.seen:
		if got != want {
			t.Fatalf("local app saw %q, want %q", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("local app saw nothing, want %q", want)
	}
}

// none checks the local app saw nothing (after a request that would have
// reached it before the caller's last synchronous request completed).
func (a *localApp) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-a.seen:
		t.Fatalf("local app saw %q, want nothing", got)
	default:
	}
}

// curl asks the pod's port 80 from the peer namespace (like another pod).
func curl(t *testing.T, pod *agenttest.Pod, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := pod.Curl(ctx, args...)
	if err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, out)
	}
	return out
}

func TestRemote(t *testing.T) {
	pod, a := newPod(t)
	url := fmt.Sprintf("http://%s:%d", agenttest.PodIP, agenttest.AppHTTPPort)
	tests := []struct {
		name     string
		incoming portforward.Incoming
		run      func(t *testing.T, app *localApp)
	}{
		{"mirror", portforward.Incoming{}, func(t *testing.T, app *localApp) {
			// The app answers; the local app gets a copy.
			if got := curl(t, pod, url+"/m"); got != "app: GET /m" {
				t.Fatalf("peer got %q", got)
			}
			app.expect(t, "GET /m ")
		}},
		{"mirror with header filter", portforward.Incoming{Filter: &protocol.HTTPFilter{Header: "^x-user: me$"}}, func(t *testing.T, app *localApp) {
			if got := curl(t, pod, "-H", "X-User: you", url+"/other"); got != "app: GET /other" {
				t.Fatalf("peer got %q", got)
			}
			if got := curl(t, pod, "-H", "X-User: me", url+"/mine"); got != "app: GET /mine" {
				t.Fatalf("peer got %q", got)
			}
			// Only the matching request was copied.
			app.expect(t, "GET /mine me")
		}},
		{"steal", portforward.Incoming{Mode: protocol.ModeSteal}, func(t *testing.T, app *localApp) {
			if got := curl(t, pod, url+"/s"); got != "local: GET /s" {
				t.Fatalf("peer got %q", got)
			}
			app.expect(t, "GET /s ")
		}},
		{"steal with header filter", portforward.Incoming{Mode: protocol.ModeSteal, Filter: &protocol.HTTPFilter{Header: "^x-user: me$"}},
			func(t *testing.T, app *localApp) {
				if got := curl(t, pod, "-H", "X-User: me", url+"/mine"); got != "local: GET /mine" {
					t.Fatalf("matching request: peer got %q", got)
				}
				app.expect(t, "GET /mine me")
				if got := curl(t, pod, "-H", "X-User: you", url+"/yours"); got != "app: GET /yours" {
					t.Fatalf("other request: peer got %q", got)
				}
				app.none(t)
				// Keep-alive: two requests on one peer connection, split
				// between the local app and the target's app.
				got := curl(t, pod, "-H", "X-User: me", url+"/a", "--next", url+"/b")
				if got != "local: GET /aapp: GET /b" {
					t.Fatalf("keep-alive: peer got %q", got)
				}
				app.expect(t, "GET /a me")
			}},
		{"steal with a filter on other ports only", portforward.Incoming{Mode: protocol.ModeSteal,
			Filter: &protocol.HTTPFilter{Header: "^x-user: me$"}, FilterPorts: []uint16{8080}},
			func(t *testing.T, app *localApp) {
				if got := curl(t, pod, url+"/all"); got != "local: GET /all" {
					t.Fatalf("peer got %q", got)
				}
				app.expect(t, "GET /all ")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newLocalApp(t)
			r := start(t, portforward.Config{
				Routes:   portforward.Routes{Remote: []portforward.RemoteRoute{{RemotePort: agenttest.AppHTTPPort, LocalPort: app.port}}},
				Incoming: tt.incoming,
				Agents:   staticAgent(a),
			}, portforward.Connections)
			tt.run(t, app)
			mode := "mirror"
			if tt.incoming.Mode != "" {
				mode = string(tt.incoming.Mode)
			}
			r.report.waitFor(t, fmt.Sprintf(":80 -> 127.0.0.1:%d ready (%s", app.port, mode), time.Second)
			r.stop(t)
			// Once stopped, the target's app answers again.
			if got := curl(t, pod, url+"/after"); got != "app: GET /after" {
				t.Fatalf("after stop: peer got %q", got)
			}
		})
	}
}

// TestManyRoutes runs several -L and -R routes in one forwarder.
func TestManyRoutes(t *testing.T) {
	pod, a := newPod(t)
	peer := serveEcho(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)))
	app := newLocalApp(t)
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, echoLn)
	routes := portforward.Routes{
		Local: []portforward.LocalRoute{
			{Host: "db", RemotePort: peerPort},
			{Host: agenttest.HostsName, RemotePort: peerPort},
			{Host: "127.0.0.1", RemotePort: agenttest.AppEchoPort},
			{Host: "127.0.0.1", RemotePort: agenttest.AppHTTPPort},
		},
		Remote: []portforward.RemoteRoute{
			{RemotePort: agenttest.AppHTTPPort, LocalPort: app.port},
			{RemotePort: 9999, LocalPort: uint16(echoLn.Addr().(*net.TCPAddr).Port)},
		},
	}
	r := start(t, portforward.Config{Routes: routes, Incoming: portforward.Incoming{Mode: protocol.ModeSteal}, Agents: staticAgent(a)}, portforward.Quiet)
	for i := range 3 {
		msg := []byte(fmt.Sprintf("route %d", i))
		if got, err := echoOnce(r.LocalAddr(i).String(), msg); err != nil || string(got) != string(msg) {
			t.Fatalf("-L %d: %q, %v", i, got, err)
		}
	}
	// -L to the target's own port 80 is not stolen (the agent's own
	// connections pass), so it reaches the target's app.
	resp, err := http.Get("http://" + r.LocalAddr(3).String() + "/l")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "app: GET /l" {
		t.Fatalf("-L to the target's port 80: %q", body)
	}
	if got := curl(t, pod, fmt.Sprintf("http://%s/r", agenttest.PodIP)); got != "local: GET /r" {
		t.Fatalf("-R 80: %q", got)
	}
	// Raw TCP steal on a port nothing listens on in the target.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := pod.ExecPeer(ctx, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/9999; printf raw-bytes >&3; timeout 10 head -c 9 <&3", agenttest.PodIP))
	if err != nil || string(out) != "raw-bytes" {
		t.Fatalf("-R 9999 (raw steal to a local echo): %q, %v", out, err)
	}
	if n := peer.Accepted(); n != 2 {
		t.Fatalf("peer accepted %d, want 2", n)
	}
	if n := strings.Count(r.report.String(), "ready"); n != 6 {
		t.Fatalf("%d ready lines, want 6:\n%s", n, r.report.String())
	}
}
