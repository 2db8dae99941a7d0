package intproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

const (
	subscribeTimeout = 30 * time.Second
	deliverTimeout   = 5 * time.Second
)

// subscription is one subscribed target port delivered to a local listener.
type subscription struct {
	remotePort uint16
	reqPort    uint16
	actual     netip.AddrPort // the app's listener
	target     netip.AddrPort // where we dial (loopback for a wildcard listener)
	pid        uint32
	mode       protocol.Mode
	filter     *protocol.HTTPFilter
	sub        *protocol.Subscription
	cancel     context.CancelFunc
	once       sync.Once
}

func (s *subscription) close() {
	s.once.Do(func() {
		s.cancel()
		s.sub.Close()
	})
}

// bind says which port a listener binds: listen_ports may force one, which
// also disables the fallback to a free port.
func (p *Proxy) bind(r wire.Bind) *wire.Builder {
	port, fallback := r.Addr.Port(), uint8(1)
	for _, m := range p.s.Incoming.ListenPorts {
		if m[0] == port {
			port, fallback = m[1], 0
			break
		}
	}
	return okResponse().U16(port).U8(fallback)
}

// subscribable applies mode, targetless, ignore_localhost, ignore_ports and
// the ports allowlist (reference/runtime.md §4.3).
func (p *Proxy) subscribable(r wire.Listen) bool {
	in := &p.s.Incoming
	switch {
	case in.Mode == settings.IncomingOff, p.s.Targetless:
		return false
	case in.IgnoreLocalhost && r.Actual.Addr().Unmap().IsLoopback():
		return false
	case slices.Contains(in.IgnorePorts, r.RequestedPort):
		return false
	case in.Ports != nil && !slices.Contains(in.Ports, r.RequestedPort):
		return false
	}
	return true
}

// remotePort applies port_mapping ([local, remote]).
func (p *Proxy) remotePort(local uint16) uint16 {
	for _, m := range p.s.Incoming.PortMapping {
		if m[0] == local {
			return m[1]
		}
	}
	return local
}

func (p *Proxy) listen(ctx context.Context, proc *process, r wire.Listen) *wire.Builder {
	p.mu.Lock()
	p.listening[r.Actual.Port()]++
	if r.RequestedPort != r.Actual.Port() {
		p.listening[r.RequestedPort]++
	}
	p.mu.Unlock()
	if !p.subscribable(r) {
		return localResponse()
	}
	remote := p.remotePort(r.RequestedPort)
	req := protocol.SubscribeRequest{Port: remote, Mode: protocol.ModeMirror}
	if p.s.Incoming.Mode == settings.IncomingSteal {
		req.Mode = protocol.ModeSteal
	}
	if f := p.s.Incoming.HTTPFilter; f != nil && (p.s.Incoming.HTTPFilterPorts == nil || slices.Contains(p.s.Incoming.HTTPFilterPorts, remote)) {
		req.Filter = f
	}
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	sub, err := p.agent.Subscribe(sctx, req)
	cancel()
	if err != nil {
		p.log.Warn("subscribe", "port", remote, "err", err)
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodePortInUse {
			return errnoResponse(syscall.EADDRINUSE)
		}
		return errnoResponse(errnoOf(err))
	}
	target := r.Actual
	if target.Addr().IsUnspecified() {
		lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if target.Addr().Is6() && !target.Addr().Is4In6() {
			lo = netip.IPv6Loopback()
		}
		target = netip.AddrPortFrom(lo, target.Port())
	}
	dctx, dcancel := context.WithCancel(context.Background())
	s := &subscription{
		remotePort: remote, reqPort: r.RequestedPort, actual: r.Actual, target: target,
		pid: proc.pid, mode: req.Mode, filter: req.Filter, sub: sub, cancel: dcancel,
	}
	p.mu.Lock()
	old := p.subs[remote]
	p.subs[remote] = s
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	p.log.Info("subscribed", "port", remote, "mode", req.Mode, "deliver_to", target)
	p.publishPorts("port_subscribed", s)
	go p.deliver(dctx, s)
	return okResponse()
}

func (p *Proxy) unlisten(r wire.Unlisten) *wire.Builder {
	p.mu.Lock()
	for _, port := range []uint16{r.ActualPort, r.RequestedPort} {
		if p.listening[port] > 1 {
			p.listening[port]--
		} else {
			delete(p.listening, port)
		}
		if r.ActualPort == r.RequestedPort {
			break
		}
	}
	var gone *subscription
	for port, s := range p.subs {
		if s.actual.Port() == r.ActualPort {
			gone = s
			delete(p.subs, port)
			break
		}
	}
	p.mu.Unlock()
	if gone != nil {
		p.unsubscribed(gone)
	}
	return okResponse()
}

func (p *Proxy) unsubscribed(s *subscription) {
	s.close()
	p.log.Info("unsubscribed", "port", s.remotePort)
	p.publishPorts("port_unsubscribed", s)
}

// publishPorts updates the registry's port list.
func (p *Proxy) publishPorts(event string, s *subscription) {
	reg := p.cfg.Registry
	if reg == nil {
		return
	}
	p.mu.Lock()
	ports := make([]registry.PortSubscription, 0, len(p.subs))
	for _, x := range p.subs {
		ports = append(ports, portInfo(x))
	}
	p.mu.Unlock()
	slices.SortFunc(ports, func(a, b registry.PortSubscription) int { return int(a.Port) - int(b.Port) })
	reg.Update(func(i *registry.Info) { i.PortSubscriptions = ports })
	pi := portInfo(s)
	reg.Publish(registry.Event{Type: event, Port: &pi})
}

func portInfo(s *subscription) registry.PortSubscription {
	ps := registry.PortSubscription{Port: s.remotePort, Mode: string(s.mode)}
	if s.filter != nil {
		b, _ := json.Marshal(s.filter)
		ps.Filter = string(b)
	}
	return ps
}

func (p *Proxy) accepted(r wire.Accepted) *wire.Builder {
	p.mu.Lock()
	peer, ok := p.peers[r.PeerPort]
	p.mu.Unlock()
	if !ok {
		return localResponse()
	}
	return okResponse().Addr(peer)
}

// deliver hands each incoming connection of s to the app's listener.
func (p *Proxy) deliver(ctx context.Context, s *subscription) {
	for {
		in, err := s.sub.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("subscription ended", "port", s.remotePort, "err", err)
			}
			return
		}
		go p.serveIncoming(s, in)
	}
}

func (p *Proxy) serveIncoming(s *subscription, in *protocol.IncomingConn) {
	defer in.Close()
	// The connection's real peer is recorded under its local port before
	// it connects: the app may accept it (and ask who called, OpAccepted)
	// as soon as the handshake completes.
	var local uint16
	peer, perr := netip.ParseAddrPort(in.Info.Remote)
	d := net.Dialer{Timeout: deliverTimeout, Control: func(network, _ string, rc syscall.RawConn) error {
		if perr != nil {
			return nil
		}
		var err error
		cerr := rc.Control(func(fd uintptr) {
			local, err = bindEphemeral(int(fd), network)
			if err == nil {
				p.mu.Lock()
				p.peers[local] = peer
				p.mu.Unlock()
			}
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial("tcp", s.target.String())
	if local != 0 {
		defer func() {
			p.mu.Lock()
			delete(p.peers, local)
			p.mu.Unlock()
		}()
	}
	if err != nil {
		p.log.Warn("deliver incoming connection", "to", s.target, "err", err)
		return
	}
	conn := c.(*net.TCPConn)
	defer conn.Close()
	_ = conn.SetNoDelay(true)
	switch {
	case in.Info.HTTP:
		p.serveHTTP(in, conn)
	case in.Info.Mode == protocol.ModeMirror:
		// the app's answers go nowhere: the real target answers the peer
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, conn)
			close(done)
		}()
		_, _ = io.Copy(conn, in)
		_ = conn.CloseWrite()
		select {
		case <-done:
		case <-time.After(deliverTimeout):
		}
	default:
		relay.Pipe(conn, in, relay.Options{})
	}
}

// serveHTTP answers one filtered-steal request with the app's response.
func (p *Proxy) serveHTTP(in *protocol.IncomingConn, conn *net.TCPConn) {
	req, err := in.ReadRequest()
	if err != nil {
		p.log.Warn("read stolen request", "err", err)
		return
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		p.log.Warn("send stolen request to the app", "err", err)
		_ = in.WriteResponse(badGateway(req))
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		p.log.Warn("read the app's response", "err", err)
		_ = in.WriteResponse(badGateway(req))
		return
	}
	defer resp.Body.Close()
	if err := in.WriteResponse(resp); err != nil {
		p.log.Warn("send the app's response", "err", err)
	}
}

func badGateway(req *http.Request) *http.Response {
	return &http.Response{
		StatusCode: http.StatusBadGateway, ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: http.NoBody,
	}
}

// bindEphemeral binds the socket fd to a port of the kernel's choosing on
// every address of its family ("tcp4" or "tcp6") and returns the port.
func bindEphemeral(fd int, network string) (uint16, error) {
	var sa unix.Sockaddr = &unix.SockaddrInet4{}
	if network == "tcp6" {
		sa = &unix.SockaddrInet6{}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return 0, fmt.Errorf("bind the delivery socket: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("delivery socket address: %w", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return uint16(a.Port), nil
	case *unix.SockaddrInet6:
		return uint16(a.Port), nil
	}
	return 0, fmt.Errorf("delivery socket address of type %T", got)
}
