package incoming

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/agent/netns"
)

// SkLookup steers connections with an eBPF sk_lookup program (Linux 5.9+).
//
// The kernel runs the program for every new TCP connection (SYN) and UDP
// datagram of the namespace before it looks up a listening socket. The
// program assigns a connection to the agent's listener (bpf_sk_assign, the
// listener held in a SOCKMAP) when its local port is in the ports map and
// its peer is not one of the agent's own pass-through sockets (the bypass
// map). Everything else, and everything when the agent is gone, takes the
// kernel's normal path to the app.
//
// Lifetime: the program is attached to the namespace with a bpf_link whose
// only reference is the file descriptor in this process (never pinned,
// close-on-exec). When the process ends, by exit, SIGKILL or the OOM
// killer, the kernel closes that descriptor and detaches the program: new
// connections reach the app again at once and nothing is left in the
// namespace. The maps and the program go with it.
//
// The accepted connection is not translated: its local address is the
// address the peer connected to. IPv6 is steered when the namespace has
// IPv6 (the listener is dual-stack); without it only IPv4 is (IPv6
// connections then reach the app, not the agent).
type SkLookup struct {
	prog    *ebpf.Program
	sockets *ebpf.Map // SOCKMAP, key 0: the listener
	ports   *ebpf.Map // HASH u32 local port -> u32 1
	bypass  *ebpf.Map // HASH bypassKey -> u32 1

	mu   sync.Mutex
	link *link.NetNsLink
}

// Sizes of the program's maps.
const (
	skLookupMaxPorts  = 1024
	skLookupMaxBypass = 65536
)

// bypassKey is the program's key for a peer address: family (host order),
// port (network order, then two zero bytes), address (network order; IPv4
// in the first four bytes).
type bypassKey [24]byte

func newBypassKey(a netip.AddrPort) bypassKey {
	var k bypassKey
	family := uint32(unix.AF_INET)
	if a.Addr().Is6() {
		family = unix.AF_INET6
	}
	binary.NativeEndian.PutUint32(k[0:4], family)
	binary.BigEndian.PutUint16(k[4:6], a.Port())
	b := a.Addr().AsSlice()
	copy(k[8:], b)
	return k
}

// Offsets in struct bpf_sk_lookup (include/uapi/linux/bpf.h).
const (
	ctxFamily     = 8
	ctxProtocol   = 12
	ctxRemoteIP4  = 16
	ctxRemoteIP6  = 20
	ctxRemotePort = 36
	ctxLocalPort  = 60
)

// skLookupProgram is, in C:
//
//	if (ctx->protocol != IPPROTO_TCP) return SK_PASS;
//	struct key k = {ctx->family, ctx->remote_port, remote address};
//	if (bpf_map_lookup_elem(&bypass, &k)) return SK_PASS;
//	__u32 port = ctx->local_port;
//	if (!bpf_map_lookup_elem(&ports, &port)) return SK_PASS;
//	__u32 zero = 0;
//	struct bpf_sock *sk = bpf_map_lookup_elem(&sockets, &zero);
//	if (!sk) return SK_PASS;
//	bpf_sk_assign(ctx, sk, 0); // fails (and passes) if another program chose first
//	bpf_sk_release(sk);
//	return SK_PASS;
func skLookupProgram(sockets, ports, bypass *ebpf.Map) asm.Instructions {
	const pass = "pass"
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, ctxProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, pass),

		// The bypass key at fp-24.
		asm.Mov.Imm(asm.R3, 0),
		asm.StoreMem(asm.R10, -24, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, -16, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, -8, asm.R3, asm.DWord),
		asm.LoadMem(asm.R2, asm.R6, ctxFamily, asm.Word),
		asm.StoreMem(asm.R10, -24, asm.R2, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, ctxRemotePort, asm.Half),
		asm.StoreMem(asm.R10, -20, asm.R3, asm.Half),
		asm.JEq.Imm(asm.R2, unix.AF_INET6, "v6"),
		asm.LoadMem(asm.R3, asm.R6, ctxRemoteIP4, asm.Word),
		asm.StoreMem(asm.R10, -16, asm.R3, asm.Word),
		asm.Ja.Label("bypass"),
		asm.LoadMem(asm.R3, asm.R6, ctxRemoteIP6, asm.Word).WithSymbol("v6"),
		asm.StoreMem(asm.R10, -16, asm.R3, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, ctxRemoteIP6+4, asm.Word),
		asm.StoreMem(asm.R10, -12, asm.R3, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, ctxRemoteIP6+8, asm.Word),
		asm.StoreMem(asm.R10, -8, asm.R3, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, ctxRemoteIP6+12, asm.Word),
		asm.StoreMem(asm.R10, -4, asm.R3, asm.Word),
		asm.LoadMapPtr(asm.R1, bypass.FD()).WithSymbol("bypass"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -24),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, pass),

		// Is the port subscribed?
		asm.LoadMem(asm.R2, asm.R6, ctxLocalPort, asm.Word),
		asm.StoreMem(asm.R10, -28, asm.R2, asm.Word),
		asm.LoadMapPtr(asm.R1, ports.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -28),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, pass),

		// The listener.
		asm.StoreImm(asm.R10, -32, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, sockets.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -32),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, pass),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnSkAssign.Call(),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.FnSkRelease.Call(),

		asm.Mov.Imm(asm.R0, 1).WithSymbol(pass), // SK_PASS
		asm.Return(),
	}
}

// NewSkLookup loads the program and its maps. It fails on kernels without
// sk_lookup (before 5.9) or without the privilege to load programs
// (CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN); the caller can fall back
// to IPTablesSteering then.
func NewSkLookup() (*SkLookup, error) {
	s := &SkLookup{}
	var err error
	if s.sockets, err = ebpf.NewMap(&ebpf.MapSpec{Name: "mrdls_sock", Type: ebpf.SockMap, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("create sk_lookup socket map: %w", err)
	}
	if s.ports, err = ebpf.NewMap(&ebpf.MapSpec{Name: "mrdls_ports", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: skLookupMaxPorts}); err != nil {
		s.closeObjects()
		return nil, fmt.Errorf("create sk_lookup port map: %w", err)
	}
	if s.bypass, err = ebpf.NewMap(&ebpf.MapSpec{Name: "mrdls_bypass", Type: ebpf.Hash, KeySize: 24, ValueSize: 4,
		MaxEntries: skLookupMaxBypass, Flags: unix.BPF_F_NO_PREALLOC}); err != nil {
		s.closeObjects()
		return nil, fmt.Errorf("create sk_lookup bypass map: %w", err)
	}
	s.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "mrdls_steer",
		Type:         ebpf.SkLookup,
		AttachType:   ebpf.AttachSkLookup,
		Instructions: skLookupProgram(s.sockets, s.ports, s.bypass),
		License:      "MIT",
	})
	if err != nil {
		s.closeObjects()
		return nil, fmt.Errorf("load sk_lookup program: %w", err)
	}
	return s, nil
}

func (s *SkLookup) closeObjects() {
	if s.prog != nil {
		s.prog.Close()
	}
	for _, m := range []*ebpf.Map{s.sockets, s.ports, s.bypass} {
		if m != nil {
			m.Close()
		}
	}
}

// Name implements Steering.
func (s *SkLookup) Name() string { return "sk_lookup" }

// Listen implements Steering: a dual-stack listener on the wildcard
// address (the kernel refuses to assign an IPv4 connection to a socket
// bound to ::1, which is IPv6-only), IPv4 only when the namespace has no
// IPv6. Connections made to its own port are not steered ones; the
// Redirector closes them.
//
// The listener is plain TCP: Go listens with MPTCP by default where the
// kernel has it, and an MPTCP socket cannot go in a SOCKMAP (EOPNOTSUPP).
func (s *SkLookup) Listen(ctx context.Context, ns netns.Namespace) (*net.TCPListener, error) {
	var ln net.Listener
	err := ns.Run(func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		var err error
		if ln, err = lc.Listen(ctx, "tcp", "[::]:0"); err != nil {
			ln, err = lc.Listen(ctx, "tcp4", "0.0.0.0:0")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// Install implements Steering: it puts ln in the socket map and attaches
// the program to ns. The link lives until Uninstall or the end of this
// process.
func (s *SkLookup) Install(_ context.Context, ns netns.Namespace, ln *net.TCPListener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != nil {
		return errors.New("sk_lookup steering already installed")
	}
	raw, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	if err := raw.Control(func(fd uintptr) {
		perr = s.sockets.Update(uint32(0), uint64(fd), ebpf.UpdateAny)
	}); err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("put the listener in the sk_lookup socket map: %w", perr)
	}
	f, err := ns.Fd()
	if err != nil {
		return err
	}
	defer f.Close()
	l, err := link.AttachNetNs(int(f.Fd()), s.prog)
	if err != nil {
		return fmt.Errorf("attach sk_lookup program to the target's network namespace: %w", err)
	}
	s.link = l
	return nil
}

// AddPort implements Steering.
func (s *SkLookup) AddPort(_ context.Context, port uint16) error {
	if err := s.ports.Update(uint32(port), uint32(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("steer port %d: %w", port, err)
	}
	return nil
}

// RemovePort implements Steering.
func (s *SkLookup) RemovePort(_ context.Context, port uint16) error {
	if err := s.ports.Delete(uint32(port)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("stop steering port %d: %w", port, err)
	}
	return nil
}

// Uninstall implements Steering: it detaches the program. The maps and
// the program stay loaded for the next Install until Close.
func (s *SkLookup) Uninstall(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link == nil {
		return nil
	}
	err := s.link.Close()
	s.link = nil
	if derr := s.sockets.Delete(uint32(0)); derr != nil && !errors.Is(derr, ebpf.ErrKeyNotExist) && err == nil {
		err = derr
	}
	return err
}

// Close implements Steering: Uninstall, and free the program and maps.
func (s *SkLookup) Close() error {
	err := s.Uninstall(context.Background())
	s.mu.Lock()
	s.closeObjects()
	s.mu.Unlock()
	return err
}

// OriginalDst implements Steering: a steered connection is not translated.
func (s *SkLookup) OriginalDst(c *net.TCPConn) (netip.AddrPort, error) {
	ap := c.LocalAddr().(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// DialApp implements Steering. The socket is bound to orig's address
// before it connects, and its address is put in the bypass map until the
// connection is established, so the program passes it to the app.
func (s *SkLookup) DialApp(ctx context.Context, ns netns.Namespace, orig netip.AddrPort) (*net.TCPConn, error) {
	c, err := s.dialExempt(ctx, ns, &net.Dialer{Timeout: netns.ConnectTimeout}, orig, true)
	if err != nil {
		return nil, fmt.Errorf("pass through to %s: %w", orig, err)
	}
	return c, nil
}

// DialExempt implements Steering: the socket is registered in the bypass
// map when dst is an address of the namespace (as the iptables rules'
// group exemption lets the agent's connections pass).
func (s *SkLookup) DialExempt(ctx context.Context, ns netns.Namespace, d *net.Dialer, dst netip.AddrPort) (*net.TCPConn, error) {
	return s.dialExempt(ctx, ns, d, dst, false)
}

// dialExempt binds the socket to dst's address (a local connection's
// source may be its destination) and registers it in the bypass map until
// connect returns. When dst is not local the bind fails: then, unless
// mustBind, the socket connects unbound (no steering applies to it).
func (s *SkLookup) dialExempt(ctx context.Context, ns netns.Namespace, base *net.Dialer, dst netip.AddrPort, mustBind bool) (*net.TCPConn, error) {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	network := "tcp4"
	if dst.Addr().Is6() {
		network = "tcp6"
	}
	var (
		key        bypassKey
		registered bool
	)
	d := *base
	d.ControlContext = func(_ context.Context, _, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: dst.Addr().As4()}
			if dst.Addr().Is6() {
				sa = &unix.SockaddrInet6{Addr: dst.Addr().As16()}
			}
			if berr := unix.Bind(int(fd), sa); berr != nil {
				if mustBind {
					err = fmt.Errorf("bind to %s: %w", dst.Addr(), berr)
				}
				return
			}
			var got unix.Sockaddr
			if got, err = unix.Getsockname(int(fd)); err != nil {
				return
			}
			var port int
			switch a := got.(type) {
			case *unix.SockaddrInet4:
				port = a.Port
			case *unix.SockaddrInet6:
				port = a.Port
			}
			key = newBypassKey(netip.AddrPortFrom(dst.Addr(), uint16(port)))
			if err = s.bypass.Update(key, uint32(1), ebpf.UpdateAny); err != nil {
				err = fmt.Errorf("exempt the connection from steering: %w", err)
				return
			}
			registered = true
		})
		if cerr != nil {
			return cerr
		}
		return err
	}
	c, err := ns.DialContext(ctx, &d, network, dst.String())
	if registered {
		_ = s.bypass.Delete(key)
	}
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}
