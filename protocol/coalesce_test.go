package protocol

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records the size of every write that reaches the transport.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestCoalescedFrames: a small message on a stream reaches the transport
// as one write (header and body together), a large one as header + body,
// and the bytes arrive intact either way.
func TestCoalescedFrames(t *testing.T) {
	a, b := net.Pipe()
	counted := &countingConn{Conn: a}
	client, err := NewSession(counted, false)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := NewSession(b, true)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan *Stream, 1)
	go func() {
		st, err := server.Accept()
		if err == nil {
			accepted <- st
		}
	}()
	st, err := client.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		size   int
		writes []int // the writes one message makes
	}{
		{"small", 64, []int{yamuxHeaderSize + 64}},
		{"relay buffer", 128 << 10, []int{yamuxHeaderSize + 128<<10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := bytes.Repeat([]byte{'m'}, tc.size)
			got := make(chan []byte, 1)
			go func() {
				var peer *Stream
				select {
				case peer = <-accepted:
					accepted <- peer
				case <-ctx.Done():
					got <- nil
					return
				}
				buf := make([]byte, tc.size)
				if _, err := io.ReadFull(peer, buf); err != nil {
					got <- nil
					return
				}
				got <- buf
			}()
			counted.mu.Lock()
			counted.writes = nil
			counted.mu.Unlock()
			if _, err := st.Write(msg); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, msg) {
				t.Fatalf("the peer read %d bytes, want the %d written", len(b), len(msg))
			}
			counted.mu.Lock()
			w := append([]int(nil), counted.writes...)
			counted.mu.Unlock()
			// the first message also carries the stream's SYN (a data
			// frame without body); keep only the writes of the message
			if len(w) > len(tc.writes) {
				w = w[len(w)-len(tc.writes):]
			}
			if len(w) != len(tc.writes) {
				t.Fatalf("writes %v, want %v", w, tc.writes)
			}
			for i := range w {
				if w[i] != tc.writes[i] {
					t.Fatalf("writes %v, want %v", w, tc.writes)
				}
			}
		})
	}
}
