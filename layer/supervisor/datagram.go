package supervisor

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// Unconnected UDP (sendto with an address, recvfrom asking for the
// source): a datagram to a remote address goes to the intproxy's UDP
// interceptor for that address (asked once per socket and address, as a
// UDP connect would), sent from the program's own socket; a datagram
// that comes back from an interceptor is reported as coming from the
// remote address, so a resolver that checks who answered (musl's)
// accepts it. The filter notifies sendto and recvfrom only when they
// carry an address; sendmsg and recvmsg (msg_name inside a struct the
// filter cannot read) run natively.

// maxRoutes bounds the remote addresses remembered per socket (a
// resolver talks to a few nameservers).
const maxRoutes = 16

// maxDatagram bounds the datagram the supervisor copies (UDP's maximum).
const maxDatagram = 65535

// udpRoute is an unconnected UDP socket's remote address and the
// interceptor that carries it.
type udpRoute struct{ remote, via netip.AddrPort }

func (s *Supervisor) sendto(n *notif, p *process, fd, buf, size, flags, addr, addrLen uint64) func() {
	if size > maxDatagram {
		s.cont(n) // the kernel says EMSGSIZE
		return nil
	}
	sa, ok := s.destArg(n, p, wire.FlagOutUDP, addr, addrLen)
	if !ok {
		return nil
	}
	return func() {
		sk, ino, err := p.socketIno(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		if sk.typ != unix.SOCK_DGRAM || int(sa.Family) != sk.domain {
			s.cont(n)
			return
		}
		remote := netip.AddrPortFrom(sa.Addr.Addr().Unmap(), sa.Addr.Port())
		var via netip.AddrPort
		p.mu.Lock()
		for _, r := range p.udp[ino] {
			if r.remote == remote {
				via = r.via
			}
		}
		p.mu.Unlock()
		data := make([]byte, size)
		if got, err := readMem(n.PID, buf, data); err != nil || got != len(data) {
			s.cont(n) // a bad buffer: the kernel says EFAULT
			return
		}
		if !via.IsValid() {
			r, ok := s.askOK(n, p, wire.NewRequest(wire.OpConnect).U8(wire.ProtoUDP).Addr(sa.Addr).Frame())
			if !ok {
				return
			}
			if via, ok = decodeAddr(r.body); !ok {
				s.fail(n, unix.EIO)
				return
			}
			p.mu.Lock()
			if len(p.udp) >= maxPeers {
				clear(p.udp)
			}
			if len(p.udp[ino]) >= maxRoutes {
				p.udp[ino] = p.udp[ino][1:]
			}
			p.udp[ino] = append(p.udp[ino], udpRoute{remote: remote, via: via})
			p.mu.Unlock()
		} else if !s.checked(n) {
			return
		}
		// the datagram the supervisor read, never the buffer again
		err = unix.Sendto(sk.fd, data, int(flags)|unix.MSG_DONTWAIT, encodeSockaddr(sk.domain, via))
		if err != nil {
			s.fail(n, errnoOf(err))
			return
		}
		s.ret(n, int64(len(data)))
	}
}

func (s *Supervisor) recvfrom(n *notif, p *process, fd, buf, size, flags, addr, addrLen uint64) func() {
	p.mu.Lock()
	none := len(p.udp) == 0
	p.mu.Unlock()
	if none || addr == 0 || addrLen == 0 {
		s.cont(n)
		return nil
	}
	return func() {
		sk, ino, err := p.socketIno(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		p.mu.Lock()
		routes := append([]udpRoute(nil), p.udp[ino]...)
		p.mu.Unlock()
		if len(routes) == 0 {
			s.cont(n)
			return
		}
		addrSize, ok := s.sockLen(n, addrLen)
		if !ok || !s.checked(n) {
			return
		}
		if !s.readyToTake(n, sk.fd, flags&unix.MSG_DONTWAIT != 0) {
			return
		}
		data := make([]byte, min(size, maxDatagram))
		got, from, err := unix.Recvfrom(sk.fd, data, int(flags)|unix.MSG_DONTWAIT)
		if err != nil {
			s.fail(n, errnoOf(err)) // EAGAIN as the kernel would say
			return
		}
		src, _ := addrOfSockaddr(from)
		for _, r := range routes {
			if src.Addr().Unmap() == r.via.Addr() && src.Port() == r.via.Port() {
				src = r.remote
			}
		}
		if err := writeMem(n.PID, buf, data[:min(got, len(data))]); err != nil {
			s.fail(n, unix.EFAULT)
			return
		}
		if src.IsValid() && writeSockaddr(n.PID, addr, addrLen, addrSize, sk.domain, src) != nil {
			s.fail(n, unix.EFAULT)
			return
		}
		s.ret(n, int64(got))
	}
}
