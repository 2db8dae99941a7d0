package agent_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// startTargetless runs a targetless agent (no root needed).
func startTargetless(t *testing.T) *agenttest.Agent {
	return agenttest.StartAgent(t, nil, agenttest.AgentOptions{Args: []string{"targetless", "--root", t.TempDir()}, Extra: []string{"--linger", "1m"}})
}

func TestAuthentication(t *testing.T) {
	a := startTargetless(t)
	tests := []struct {
		name  string
		token string
	}{
		{"missing token", ""},
		{"wrong token", "not-the-token"},
		{"token prefix", a.Token[:len(a.Token)-1]},
		{"token with suffix", a.Token + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := net.Dial("tcp", a.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = protocol.ClientHandshake(ctx, conn, protocol.Hello{Token: tt.token})
			if !errors.Is(err, protocol.ErrRejected) {
				t.Fatalf("handshake with %s: %v, want rejection", tt.name, err)
			}
			// The agent sent nothing at all and closed the connection.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := conn.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !errors.Is(err, net.ErrClosed)) {
				t.Fatalf("after rejection: read %d bytes, %v", n, err)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		conn, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: agent\r\n\r\n"))
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		// Nothing comes back: EOF, or a reset because the agent closed with
		// our bytes unread.
		if got, err := io.ReadAll(conn); len(got) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("garbage got %q, %v", got, err)
		}
	})
	t.Run("incompatible version", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = protocol.ClientHandshake(ctx, conn, protocol.Hello{Token: a.Token, Protocol: "2.0"})
		if err == nil || !containsAll(err.Error(), "2.0", protocol.Version) {
			t.Fatalf("handshake with protocol 2.0: %v, want a clear version error", err)
		}
	})
	t.Run("right token", func(t *testing.T) {
		c := a.Client(t)
		w := c.Welcome()
		if w.AgentVersion == "" || !w.Has(protocol.CapFiles) || w.Has(protocol.CapSteal) {
			t.Fatalf("welcome %+v", w)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Subscribe(ctx, protocol.SubscribeRequest{Port: 80, Mode: protocol.ModeSteal})
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeUnsupported {
			t.Fatalf("steal in targetless mode: %v, want unsupported", err)
		}
	})
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
