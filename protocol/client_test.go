package protocol

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// plainStream hides net.Conn's deadlines, like a kube port-forward stream.
type plainStream struct{ c net.Conn }

func (p plainStream) Read(b []byte) (int, error)  { return p.c.Read(b) }
func (p plainStream) Write(b []byte) (int, error) { return p.c.Write(b) }
func (p plainStream) Close() error                { return p.c.Close() }

// miniAgent answers env requests with {"K":"V"} and echoes tcp streams.
func miniAgent(t *testing.T, conn net.Conn) {
	t.Helper()
	go func() {
		defer conn.Close()
		ctx := context.Background()
		if _, err := ServerHandshake(ctx, conn, "tok", Welcome{AgentVersion: "mini", Capabilities: []string{CapEnv, CapTCP}}); err != nil {
			return
		}
		sess, err := NewSession(conn, true)
		if err != nil {
			return
		}
		defer sess.Close()
		for {
			st, err := sess.Accept()
			if err != nil {
				return
			}
			go func() {
				defer st.Close()
				var req Request
				if _, err := ReadMessage(st, &req, 1); err != nil {
					return
				}
				switch req.Kind {
				case KindEnv:
					WriteMessage(st, &Response{Env: map[string]string{"K": "V"}}, nil)
				case KindTCP:
					WriteMessage(st, &Response{Connect: &ConnectResponse{Local: "l", Remote: req.Connect.Addr}}, nil)
					io.Copy(st, st)
					st.CloseWrite()
				default:
					WriteMessage(st, &Response{Error: Errorf(CodeUnsupported, "kind %s", req.Kind)}, nil)
				}
			}()
		}
	}()
}

func TestClientOverPlainStream(t *testing.T) {
	a, b := net.Pipe()
	miniAgent(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, plainStream{a}, Options{Token: "tok", Info: ClientInfo{Name: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.AgentVersion != "mini" || !w.Has(CapTCP) {
		t.Fatalf("welcome %+v", w)
	}
	env, err := c.Env(ctx, EnvRequest{})
	if err != nil || env["K"] != "V" {
		t.Fatalf("env = %v, %v", env, err)
	}
	conn, err := c.DialTCP(ctx, "10.0.0.1:80")
	if err != nil || conn.Remote != "10.0.0.1:80" {
		t.Fatalf("dial = %+v, %v", conn, err)
	}
	conn.Write([]byte("echo"))
	conn.CloseWrite()
	if got, err := io.ReadAll(conn); err != nil || string(got) != "echo" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	var pe *Error
	if _, _, err := c.ReadFile(ctx, "/x", 0); !errors.As(err, &pe) || pe.Code != CodeUnsupported {
		t.Fatalf("unsupported kind: %v", err)
	}
	// A cancelled context fails the call instead of hanging.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := c.Env(cctx, EnvRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled env: %v", err)
	}
}

func TestClientRejectedWithoutDeadlines(t *testing.T) {
	a, b := net.Pipe()
	miniAgent(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := NewClient(ctx, plainStream{a}, Options{Token: "wrong"})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestDialTCPSending(t *testing.T) {
	a, b := net.Pipe()
	miniAgent(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, plainStream{a}, Options{Token: "tok", Info: ClientInfo{Name: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := c.DialTCPSending(ctx, "10.0.0.1:80", []byte("first "))
	if err != nil || conn.Remote != "10.0.0.1:80" {
		t.Fatalf("dial = %+v, %v", conn, err)
	}
	conn.Write([]byte("second"))
	conn.CloseWrite()
	if got, err := io.ReadAll(conn); err != nil || string(got) != "first second" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	if _, err := c.DialTCPSending(ctx, "10.0.0.1:80", make([]byte, MaxEarlyData+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized early data: %v", err)
	}
}
