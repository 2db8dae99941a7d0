package relay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns both ends of a real loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// client ⇄ [a | relay | b] ⇄ server: the client sends 8 MiB and half-closes;
// the server answers with the digest after reading everything.
func TestPipeHalfCloseAndIntegrity(t *testing.T) {
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	done := make(chan Result, 1)
	var dumped bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- Pipe(a, b, Options{WrapBA: func(w io.Writer) io.Writer {
			return io.MultiWriter(w, writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return dumped.Write(p) }))
		}})
	}()
	go func() {
		h := sha256.New()
		_, _ = io.Copy(h, server)
		_, _ = server.Write(h.Sum(nil))
		_ = server.CloseWrite()
	}()
	payload := make([]byte, 8<<20)
	_, _ = rand.Read(payload)
	if _, err := client.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(payload)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("digest mismatch")
	}
	res := <-done
	if res.Err != nil || res.AB != int64(len(payload)) || res.BA != 32 {
		t.Fatalf("result %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(dumped.Bytes(), want[:]) {
		t.Fatalf("WrapBA saw %d bytes", dumped.Len())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A reset on one side ends both directions and is reported.
func TestPipeErrorClosesBoth(t *testing.T) {
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	done := make(chan Result, 1)
	go func() { done <- Pipe(a, b, Options{}) }()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	_ = client.SetLinger(0) // close with RST
	client.Close()
	select {
	case res := <-done:
		if res.Err == nil {
			t.Fatal("a reset must be reported")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pipe did not end after a reset")
	}
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := server.Read(buf)
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the other side must be closed, read gave: %v", err)
	}
}

// Without CloseWrite, the end of one direction closes the destination.
func TestCloseWriteFallsBackToClose(t *testing.T) {
	r, w := io.Pipe()
	if err := CloseWrite(w); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after close: %v", err)
	}
}

func BenchmarkPipe(b *testing.B) {
	client, a := tcpPair(b)
	c2, server := tcpPair(b)
	go Pipe(a, c2, Options{})
	go func() { _, _ = io.Copy(io.Discard, server) }()
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
