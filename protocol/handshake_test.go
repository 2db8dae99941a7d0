package protocol

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// pipePair is a connected in-memory connection pair.
func pipePair(t *testing.T) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name        string
		hello       Hello
		wantServer  error
		wantClient  error
		wantWelcome bool
	}{
		{"ok", Hello{Token: "secret"}, nil, nil, true},
		{"wrong token", Hello{Token: "nope"}, ErrBadToken, ErrRejected, false},
		{"missing token", Hello{}, ErrBadToken, ErrRejected, false},
		{"new major", Hello{Token: "secret", Protocol: "9.0"}, ErrIncompatible, errAny, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := pipePair(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			serr := make(chan error, 1)
			go func() {
				_, err := ServerHandshake(ctx, sc, "secret", Welcome{AgentVersion: "test", Capabilities: []string{CapEnv}})
				if err != nil {
					sc.Close() // what the agent does
				}
				serr <- err
			}()
			w, err := ClientHandshake(ctx, cc, tt.hello)
			if tt.wantClient == nil && err != nil {
				t.Fatalf("client: %v", err)
			}
			if tt.wantClient == errAny && err == nil {
				t.Fatal("client: no error")
			}
			if tt.wantClient != nil && tt.wantClient != errAny && !errors.Is(err, tt.wantClient) {
				t.Fatalf("client: %v, want %v", err, tt.wantClient)
			}
			if got := <-serr; !errors.Is(got, tt.wantServer) {
				t.Fatalf("server: %v, want %v", got, tt.wantServer)
			}
			if tt.wantWelcome && (w == nil || !w.Has(CapEnv) || w.AgentVersion != "test") {
				t.Fatalf("welcome %+v", w)
			}
		})
	}
}

var errAny = errors.New("any error")

func FuzzServerHandshake(f *testing.F) {
	var buf bytes.Buffer
	WriteMessage(&buf, Hello{Magic: Magic, Protocol: Version, Token: "secret", Client: ClientInfo{Name: "fuzz"}}, nil)
	f.Add(buf.Bytes())
	buf.Reset()
	WriteMessage(&buf, Hello{Magic: Magic, Protocol: "7.x", Token: "secret"}, nil)
	f.Add(buf.Bytes())
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &fakeConn{r: bytes.NewReader(b)}
		h, err := ServerHandshake(context.Background(), c, "secret", Welcome{})
		if err == nil && (h == nil || !TokenEqual(h.Token, "secret")) {
			t.Fatal("accepted a hello without the token")
		}
		if errors.Is(err, ErrBadToken) && c.w.Len() > 0 {
			t.Fatal("answered a client with a wrong token")
		}
	})
}

// fakeConn is a net.Conn over a reader and a buffer, for the fuzzer.
type fakeConn struct {
	net.Conn
	r *bytes.Reader
	w bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) Close() error                     { return nil }
