package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/servetest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// fakeAgent serves every connection on a loopback port with handle, until
// the test ends; it counts connections.
type fakeAgent struct {
	ln  net.Listener
	srv *servetest.Server
}

func newFakeAgent(t *testing.T, handle func(net.Conn)) *fakeAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAgent{ln: ln, srv: servetest.Serve(t, ln, handle)}
}

// open dials the fake agent the way connectAgent opens port-forward
// streams.
func (f *fakeAgent) open(ctx context.Context) (io.ReadWriteCloser, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.ln.Addr().String())
}

func (f *fakeAgent) connections() int { return f.srv.Accepted() }

// TestConnectAgentNotOurProtocol: agents that do not speak the protocol
// fail within the connect timeout, with an error that names agent.image
// and the image in use. A peer that answers something else fails at once
// (no retries); one that closes or says nothing is retried until the
// timeout, and no attempt outlives it.
func TestConnectAgentNotOurProtocol(t *testing.T) {
	const image = "ghcr.io/metalbear-co/mirrord:3.150.0"
	const timeout = 1500 * time.Millisecond
	readHello := func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var h protocol.Hello
		_, _ = protocol.ReadMessage(c, &h, 1)
	}
	var welcomeOfAnother bytes.Buffer
	_ = protocol.WriteMessage(&welcomeOfAnother, map[string]string{"magic": "someone-else", "protocol": "1.0"}, nil)
	tests := []struct {
		name     string
		handle   func(net.Conn)
		want     error
		message  string
		atOnce   bool
		attempts int // at least
	}{
		{"garbage", func(c net.Conn) {
			readHello(c)
			_, _ = c.Write([]byte("\x00\x00\x00\x07garbage\xff\xfe and then some more bytes"))
			_, _ = io.Copy(io.Discard, c)
		}, protocol.ErrNotAgent, "does not speak this mirrord's agent protocol", true, 1},
		{"a frame of another protocol (HTTP)", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		}, protocol.ErrNotAgent, "does not speak this mirrord's agent protocol", true, 1},
		{"another magic", func(c net.Conn) {
			readHello(c)
			_, _ = c.Write(welcomeOfAnother.Bytes())
		}, protocol.ErrNotAgent, "does not speak this mirrord's agent protocol", true, 1},
		{"another major version", func(c net.Conn) {
			readHello(c)
			_ = protocol.WriteMessage(c, protocol.Welcome{Magic: protocol.Magic, Protocol: "9.0"}, nil)
		}, protocol.ErrIncompatible, "does not speak this mirrord's agent protocol", true, 1},
		{"closes at once", func(c net.Conn) {}, protocol.ErrRejected, "closed every connection during the handshake", false, 2},
		{"accepts and says nothing", func(c net.Conn) {
			_, _ = io.Copy(io.Discard, c)
		}, context.DeadlineExceeded, "cannot connect to the agent (image " + image + ")", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := newFakeAgent(t, tt.handle)
			t0 := time.Now()
			c, err := connectAgent(context.Background(), fa.open, protocol.Options{Token: "tok"}, image, "Check RBAC.", timeout)
			took := time.Since(t0)
			if err == nil {
				c.Close()
				t.Fatal("connected to a fake agent")
			}
			var se *Error
			if !errors.As(err, &se) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v (%T), want %v", err, err, tt.want)
			}
			if !strings.Contains(se.Message, tt.message) || !strings.Contains(se.Message, image) {
				t.Errorf("message %q, want %q and the image", se.Message, tt.message)
			}
			if !strings.Contains(se.Help, "agent.image") || !strings.Contains(se.Help, image) {
				t.Errorf("help %q does not name agent.image and the image", se.Help)
			}
			if took > timeout+time.Second {
				t.Errorf("took %v, past the %v timeout", took, timeout)
			}
			if tt.atOnce && took > timeout/2 {
				t.Errorf("took %v: a peer of another protocol must fail at once", took)
			}
			if n := fa.connections(); n < tt.attempts || (tt.atOnce && n != 1) {
				t.Errorf("%d connection attempts", n)
			}
		})
	}
}

// The same path connects to a peer that speaks the protocol.
func TestConnectAgentOK(t *testing.T) {
	fa := newFakeAgent(t, func(c net.Conn) {
		h, err := protocol.ServerHandshake(context.Background(), c, "tok", protocol.Welcome{Capabilities: []string{protocol.CapEnv}})
		if err != nil || h.Client.Name != "test" {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	})
	c, err := connectAgent(context.Background(), fa.open, protocol.Options{Token: "tok", Info: protocol.ClientInfo{Name: "test"}}, "img", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); !w.Has(protocol.CapEnv) {
		t.Fatalf("welcome %+v", w)
	}
}

func TestLaunchEnv(t *testing.T) {
	l := &Launch{
		Environment: map[string]string{"GREETING": "remote", "LD_PRELOAD": "/l.so:/x.so", "Secret": "kept"},
		EnvToUnset:  []string{"aws_profile", "secret"},
	}
	got := l.Env([]string{"HOME=/root", "AWS_PROFILE=dev", "GREETING=local", "LD_PRELOAD=/x.so", "SECRET=local", "broken"})
	want := []string{"GREETING=remote", "HOME=/root", "LD_PRELOAD=/l.so:/x.so", "Secret=kept"}
	if !slices.Equal(got, want) {
		t.Fatalf("env %v, want %v", got, want)
	}
}

// End on a Launch of another process is refused rather than guessed.
func TestLaunchEndForeign(t *testing.T) {
	if err := (&Launch{SessionID: "x"}).End(context.Background()); err == nil {
		t.Fatal("End of a session this process did not start")
	}
}
