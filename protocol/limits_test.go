package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadGrowing reads messages of many sizes through readers that deliver
// few bytes at a time.
func TestReadGrowing(t *testing.T) {
	sizes := []int{0, 1, readChunk - 1, readChunk, readChunk + 1, 3*readChunk + 7, 64 << 10, 1<<20 + 3}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	}
	for _, n := range sizes {
		for _, rd := range readers {
			if rd.name == "one byte" && n > 64<<10 {
				continue
			}
			want := make([]byte, n)
			for i := range want {
				want[i] = byte(i * 7)
			}
			got, err := readGrowing(rd.wrap(bytes.NewReader(want)), n)
			if err != nil || !bytes.Equal(got, want) || len(got) != cap(got) {
				t.Errorf("%d bytes, %s reader: %d bytes (cap %d), %v", n, rd.name, len(got), cap(got), err)
			}
			if n > 0 {
				if _, err := readGrowing(rd.wrap(bytes.NewReader(want[:n-1])), n); !errors.Is(err, io.ErrUnexpectedEOF) && !(n == 1 && err == io.EOF) {
					t.Errorf("%d bytes cut short, %s reader: %v", n, rd.name, err)
				}
			}
		}
	}
}

// bytesAllocated is the heap allocated (in total) by f.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A peer that declares a large message and sends a few bytes of it costs
// at most readChunk (plus small change), never the declared size.
func TestReadMessageAllocatesAsBytesArrive(t *testing.T) {
	withHeader := func(n uint32, body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), body...)
	}
	header := `{"kind":"env","env":{}}`
	withData := func(n uint32, data string) []byte {
		b := withHeader(uint32(len(header)), header)
		b = binary.BigEndian.AppendUint32(b, n)
		return append(b, data...)
	}
	tests := []struct {
		name  string
		input []byte
		max   uint64 // bytes allocated per read
	}{
		{"declared 64 KiB header, 10 bytes sent", withHeader(MaxHeaderSize, `{"kind":"e`), 2 * readChunk},
		{"declared 16 MiB data, 10 bytes sent", withData(MaxDataSize, "0123456789"), 2 * readChunk},
		{"declared 1 MiB data, 6 KiB sent", withData(1<<20, strings.Repeat("x", 6<<10)), 4 * readChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const runs = 50
			var err error
			n := bytesAllocated(func() {
				for range runs {
					var r Request
					_, err = ReadMessage(bytes.NewReader(tt.input), &r, MaxDataSize)
				}
			})
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read: %v, want unexpected EOF", err)
			}
			if per := n / runs; per > tt.max {
				t.Fatalf("%d bytes allocated per read, want at most %d", per, tt.max)
			}
		})
	}
}

// The server reads at most MaxHelloSize of header before the token is
// checked, and admit decides before the Welcome goes out.
func TestServerHandshakeLimits(t *testing.T) {
	errFull := errors.New("no room")
	tests := []struct {
		name       string
		hello      Hello
		raw        []byte // sent instead of hello
		admit      func() error
		wantServer error
		welcomed   bool
	}{
		{"ok", Hello{Token: "secret"}, nil, nil, nil, true},
		{"admitted", Hello{Token: "secret"}, nil, func() error { return nil }, nil, true},
		{"not admitted", Hello{Token: "secret"}, nil, func() error { return errFull }, errFull, false},
		{"wrong token not asked to admit", Hello{Token: "nope"}, nil, func() error { panic("admit called") }, ErrBadToken, false},
		{"hello at the limit", Hello{Token: "secret", Client: ClientInfo{Name: strings.Repeat("n", MaxHelloSize-200)}}, nil, nil, nil, true},
		// The server closes before the client's write ends (net.Pipe does
		// not buffer), so the client sees its write fail.
		{"hello over the limit", Hello{Token: "secret", Client: ClientInfo{Name: strings.Repeat("n", MaxHelloSize)}}, nil, nil, ErrTooLarge, false},
		{"declared 64 KiB", Hello{}, binary.BigEndian.AppendUint32(nil, MaxHeaderSize), nil, ErrTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := pipePair(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			serr := make(chan error, 1)
			go func() {
				_, err := ServerHandshakeAdmit(ctx, sc, "secret", Welcome{AgentVersion: "test"}, tt.admit)
				if err != nil {
					sc.Close()
				}
				serr <- err
			}()
			var err error
			if tt.raw != nil {
				go func() { _, _ = cc.Write(tt.raw) }()
				_, err = io.ReadAll(cc)
				if err == nil {
					err = ErrRejected
				}
			} else {
				_, err = ClientHandshake(ctx, cc, tt.hello)
			}
			if got := <-serr; !errors.Is(got, tt.wantServer) {
				t.Fatalf("server: %v, want %v", got, tt.wantServer)
			}
			if tt.welcomed && err != nil {
				t.Fatalf("client: %v", err)
			}
			if !tt.welcomed && err == nil {
				t.Fatal("client: welcomed")
			}
			if !tt.welcomed && !errors.Is(err, ErrRejected) && !errors.Is(tt.wantServer, ErrTooLarge) {
				t.Fatalf("client: %v, want %v", err, ErrRejected)
			}
		})
	}
}

// The server gives up on a silent client at its context's deadline.
func TestServerHandshakeDeadline(t *testing.T) {
	_, sc := pipePair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := ServerHandshake(ctx, sc, "secret", Welcome{})
	if err == nil || time.Since(t0) > 2*time.Second {
		t.Fatalf("silent client: %v after %v", err, time.Since(t0))
	}
}

// BenchmarkStalledHello is what a stranger that declares the largest
// header and then stalls costs the agent's handshake: bytes allocated per
// connection (-benchmem B/op).
func BenchmarkStalledHello(b *testing.B) {
	for _, declared := range []uint32{MaxHelloSize, MaxHeaderSize} {
		input := append(binary.BigEndian.AppendUint32(nil, declared), `{"magic":"mirrord-ls-agent","tok`...)
		b.Run(declaredName(declared), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var h Hello
				_, _ = readMessage(bytes.NewReader(input), &h, MaxHelloSize, 1)
			}
		})
	}
}

func declaredName(n uint32) string {
	return fmt.Sprintf("declared_%dKiB", n>>10)
}
