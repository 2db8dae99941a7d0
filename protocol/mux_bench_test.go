package protocol

import (
	"io"
	"net"
	"testing"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"
)

// muxPair is a connected client/server session pair of one multiplexer
// implementation over real loopback TCP.
type muxPair struct {
	open   func() (net.Conn, error)
	accept func() (net.Conn, error)
	close  func()
}

func loopbackPair(b *testing.B) (net.Conn, net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c2 := <-ch
	if c2 == nil {
		b.Fatal("accept failed")
	}
	return c1, c2
}

func newYamuxPair(b *testing.B) muxPair {
	c1, c2 := loopbackPair(b)
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cs, err := yamux.Client(c1, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := yamux.Server(c2, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return muxPair{
		open:   func() (net.Conn, error) { return cs.Open() },
		accept: func() (net.Conn, error) { return ss.Accept() },
		close:  func() { cs.Close(); ss.Close() },
	}
}

func newSmuxPair(b *testing.B) muxPair {
	c1, c2 := loopbackPair(b)
	cfg := smux.DefaultConfig()
	cfg.Version = 2
	cfg.MaxReceiveBuffer = 4 << 20
	cfg.MaxStreamBuffer = 1 << 20
	cs, err := smux.Client(c1, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := smux.Server(c2, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return muxPair{
		open:   func() (net.Conn, error) { return cs.OpenStream() },
		accept: func() (net.Conn, error) { return ss.AcceptStream() },
		close:  func() { cs.Close(); ss.Close() },
	}
}

var muxImpls = []struct {
	name string
	make func(*testing.B) muxPair
}{
	{"yamux", newYamuxPair},
	{"smux", newSmuxPair},
}

// BenchmarkMuxThroughput streams 64 KiB writes over one stream.
func BenchmarkMuxThroughput(b *testing.B) {
	for _, impl := range muxImpls {
		b.Run(impl.name, func(b *testing.B) {
			p := impl.make(b)
			defer p.close()
			done := make(chan int64, 1)
			go func() {
				s, err := p.accept()
				if err != nil {
					done <- -1
					return
				}
				n, _ := io.Copy(io.Discard, s)
				s.Close()
				done <- n
			}()
			s, err := p.open()
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			s.Close()
			if n := <-done; n != int64(len(buf))*int64(b.N) {
				b.Fatalf("received %d bytes, want %d", n, int64(len(buf))*int64(b.N))
			}
		})
	}
}

// BenchmarkMuxStreamOpen measures open + one-byte round trip + close.
func BenchmarkMuxStreamOpen(b *testing.B) {
	for _, impl := range muxImpls {
		b.Run(impl.name, func(b *testing.B) {
			p := impl.make(b)
			defer p.close()
			go func() {
				for {
					s, err := p.accept()
					if err != nil {
						return
					}
					go func() {
						var one [1]byte
						if _, err := io.ReadFull(s, one[:]); err == nil {
							s.Write(one[:])
						}
						s.Close()
					}()
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := p.open()
				if err != nil {
					b.Fatal(err)
				}
				var one [1]byte
				if _, err := s.Write(one[:]); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(s, one[:]); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
