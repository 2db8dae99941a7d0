package incoming

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/agent/netns"
)

// skLookupCtx is struct bpf_sk_lookup as BPF_PROG_TEST_RUN takes it.
type skLookupCtx struct {
	Cookie     uint64
	Family     uint32
	Protocol   uint32
	RemoteIP4  [4]byte
	RemoteIP6  [16]byte
	RemotePort [2]byte // network order
	_          uint16
	LocalIP4   [4]byte
	LocalIP6   [16]byte
	LocalPort  uint32 // host order
	Ifindex    uint32
	_          uint32 // the struct's size is a multiple of 8
}

func newSkLookupCtx(remote, local netip.AddrPort) skLookupCtx {
	c := skLookupCtx{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, LocalPort: uint32(local.Port())}
	binary.BigEndian.PutUint16(c.RemotePort[:], remote.Port())
	if remote.Addr().Is6() {
		c.Family = unix.AF_INET6
		c.RemoteIP6, c.LocalIP6 = remote.Addr().As16(), local.Addr().As16()
	} else {
		c.RemoteIP4, c.LocalIP4 = remote.Addr().As4(), local.Addr().As4()
	}
	return c
}

func requireBPF(t *testing.T) *SkLookup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s, err := NewSkLookup()
	if err != nil {
		t.Skipf("no sk_lookup here: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSkLookupProgram runs the program on made-up connections
// (BPF_PROG_TEST_RUN): it selects the listener for a steered port, not for
// another port, not for a bypassed peer, and not for UDP.
func TestSkLookupProgram(t *testing.T) {
	s := requireBPF(t)
	ln, err := s.Listen(context.Background(), netns.Namespace{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, _ := ln.SyscallConn()
	var cerr error
	raw.Control(func(fd uintptr) { cerr = s.sockets.Update(uint32(0), uint64(fd), ebpf.UpdateAny) })
	if cerr != nil {
		t.Fatal(cerr)
	}
	var cookie uint64
	raw.Control(func(fd uintptr) {
		cookie, cerr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if err := s.AddPort(context.Background(), 8080); err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddrPort("10.1.2.3:40000")
	bypassed := netip.MustParseAddrPort("10.1.2.4:40001")
	if err := s.bypass.Update(newBypassKey(bypassed), uint32(1), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	peer6 := netip.MustParseAddrPort("[fd00::3]:40000")
	tests := []struct {
		name   string
		ctx    skLookupCtx
		steers bool
	}{
		{"steered port", newSkLookupCtx(peer, netip.MustParseAddrPort("10.0.0.1:8080")), true},
		{"steered port, IPv6", newSkLookupCtx(peer6, netip.MustParseAddrPort("[fd00::1]:8080")), true},
		{"other port", newSkLookupCtx(peer, netip.MustParseAddrPort("10.0.0.1:8081")), false},
		{"bypassed peer", newSkLookupCtx(bypassed, netip.MustParseAddrPort("10.0.0.1:8080")), false},
		{"udp", func() skLookupCtx {
			c := newSkLookupCtx(peer, netip.MustParseAddrPort("10.0.0.1:8080"))
			c.Protocol = unix.IPPROTO_UDP
			return c
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.ctx
			var out skLookupCtx
			ret, err := s.prog.Run(&ebpf.RunOptions{Context: in, ContextOut: &out})
			if err != nil {
				t.Fatal(err)
			}
			if ret != 1 {
				t.Fatalf("verdict %d, want SK_PASS", ret)
			}
			if got := out.Cookie == cookie; got != tt.steers {
				t.Fatalf("selected socket cookie %d (listener %d), want steered=%v", out.Cookie, cookie, tt.steers)
			}
		})
	}
	if err := s.RemovePort(context.Background(), 8080); err != nil {
		t.Fatal(err)
	}
	in, out := newSkLookupCtx(peer, netip.MustParseAddrPort("10.0.0.1:8080")), skLookupCtx{}
	if _, err := s.prog.Run(&ebpf.RunOptions{Context: in, ContextOut: &out}); err != nil || out.Cookie != 0 {
		t.Fatalf("after RemovePort: cookie %d, %v; want nothing selected", out.Cookie, err)
	}
}
