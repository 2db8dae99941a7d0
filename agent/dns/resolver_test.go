package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// fakeNameserver answers on a loopback UDP socket: "big.test" with a
// truncated answer (then over TCP), "a.test" with 10.0.0.1, "fail.test"
// with SERVFAIL, everything else NXDOMAIN.
func fakeNameserver(t *testing.T) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	addr := pc.LocalAddr().String()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Skipf("tcp port of the fake nameserver taken: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	answer := func(q dnsmessage.Message, tcp bool) []byte {
		r := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true}, Questions: q.Questions}
		qu := q.Questions[0]
		switch qu.Name.String() {
		case "a.test.", "big.test.":
			if qu.Name.String() == "big.test." && !tcp {
				r.Truncated = true
				break
			}
			if qu.Type == dnsmessage.TypeA {
				r.Answers = append(r.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: qu.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET},
					Body:   &dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}},
				})
			}
		case "fail.test.":
			r.RCode = dnsmessage.RCodeServerFailure
		default:
			r.RCode = dnsmessage.RCodeNameError
		}
		out, _ := r.Pack()
		return out
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if q.Unpack(buf[:n]) == nil && len(q.Questions) == 1 {
				pc.WriteTo(answer(q, false), from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var l [2]byte
				if _, err := c.Read(l[:]); err != nil {
					return
				}
				buf := make([]byte, int(l[0])<<8|int(l[1]))
				if _, err := c.Read(buf); err != nil {
					return
				}
				var q dnsmessage.Message
				if q.Unpack(buf) != nil {
					return
				}
				out := answer(q, true)
				c.Write(append([]byte{byte(len(out) >> 8), byte(len(out))}, out...))
			}()
		}
	}()
	return addr
}

func TestResolver(t *testing.T) {
	ns := fakeNameserver(t)
	host, _, _ := net.SplitHostPort(ns)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("10.9.9.9 hosted.test\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("nameserver "+host+"\noptions timeout:1 attempts:1\n"), 0o644)
	r := &Resolver{Root: root, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ns) // the port resolv.conf cannot express
	}}
	tests := []struct {
		host string
		want string
		eai  int
	}{
		{"hosted.test", "10.9.9.9", 0},
		{"a.test", "10.0.0.1", 0},
		{"big.test", "10.0.0.1", 0},
		{"missing.test", "", protocol.EAINoName},
		{"fail.test", "", protocol.EAIAgain},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			addrs, err := r.Lookup(ctx, tt.host, protocol.FamilyAny)
			if tt.eai != 0 {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.EAI != tt.eai {
					t.Fatalf("got %v, %v; want EAI %d", addrs, err, tt.eai)
				}
				return
			}
			if err != nil || len(addrs) != 1 || addrs[0].String() != tt.want {
				t.Fatalf("got %v, %v; want %s", addrs, err, tt.want)
			}
		})
	}
}
