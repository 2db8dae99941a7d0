package intproxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/mirrord-ls/mirrord-ls/layer/netfilter"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

const (
	// connectTimeout bounds an outgoing connect in the target.
	connectTimeout = 10 * time.Second
	// interceptTimeout is how long an interceptor waits for the app.
	interceptTimeout = 10 * time.Second
	// dnsTimeout bounds one remote lookup.
	dnsTimeout = 10 * time.Second
	// udpIdle closes an idle outgoing UDP flow.
	udpIdle = 2 * time.Minute
)

type unixPattern struct {
	src string
	re  *regexp2.Regexp
}

func compileUnixPatterns(list []string) ([]*unixPattern, error) {
	var out []*unixPattern
	for _, s := range list {
		re, err := regexp2.Compile(s, regexp2.None)
		if err != nil {
			return nil, fmt.Errorf("feature.network.outgoing.unix_streams: pattern %q: %w", s, err)
		}
		out = append(out, &unixPattern{src: s, re: re})
	}
	return out, nil
}

// dns resolves in the target unless the dns filter keeps the name local.
func (p *Proxy) dns(ctx context.Context, r wire.DNS) *wire.Builder {
	if !p.s.DNS.Enabled || !p.dnsRemote(r.Host) {
		return localResponse()
	}
	family := protocol.FamilyAny
	switch r.Family {
	case wire.FamV4:
		family = protocol.FamilyIPv4
	case wire.FamV6:
		family = protocol.FamilyIPv6
	}
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	addrs, err := p.agent.LookupHost(ctx, r.Host, family)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeDNS && pe.EAI < 0 {
			return eaiResponse(pe.EAI)
		}
		p.log.Warn("remote dns", "host", r.Host, "err", err)
		return eaiResponse(protocol.EAIAgain)
	}
	host := strings.ToLower(strings.TrimSuffix(r.Host, "."))
	p.mu.Lock()
	for _, a := range addrs {
		a = a.Unmap()
		known := p.names[a]
		dup := false
		for _, n := range known {
			dup = dup || n == host
		}
		if !dup {
			p.names[a] = append(known, host)
		}
	}
	p.mu.Unlock()
	b := okResponse().Str(r.Host).U16(uint16(min(len(addrs), 0xffff)))
	for _, a := range addrs {
		b.Addr(netip.AddrPortFrom(a, 0))
	}
	return b
}

func (p *Proxy) dnsRemote(host string) bool {
	if len(p.dnsFilter) == 0 {
		return true
	}
	for i := range p.dnsFilter {
		if p.dnsFilter[i].MatchesName(host) {
			return p.dnsFilterRemote
		}
	}
	return !p.dnsFilterRemote
}

// outgoingRemote applies ignore_localhost, local listeners and the filter.
func (p *Proxy) outgoingRemote(proto uint8, addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap()
	if ip.IsLoopback() || ip.IsUnspecified() {
		if p.s.Outgoing.IgnoreLocalhost {
			return false
		}
		// a process of this session listens there: keep it local
		p.mu.Lock()
		n := p.listening[addr.Port()]
		p.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	if len(p.outFilter) == 0 {
		return true
	}
	t := netfilter.Target{Proto: netfilter.TCP, Addr: netip.AddrPortFrom(ip, addr.Port())}
	if proto == wire.ProtoUDP {
		t.Proto = netfilter.UDP
	}
	p.mu.Lock()
	t.Names = append(t.Names, p.names[ip]...)
	p.mu.Unlock()
	for i := range p.outFilter {
		e := &p.outFilter[i]
		if e.Host != "" && !e.Matches(t) && p.resolvesTo(e.Host, ip) {
			t.Names = append(t.Names, e.Host)
		}
		if e.Matches(t) {
			return p.outFilterRemote
		}
	}
	return !p.outFilterRemote
}

// resolvesTo resolves a filter's host name where the filter applies:
// remotely for remote filters, locally for local ones.
func (p *Proxy) resolvesTo(host string, ip netip.Addr) bool {
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	defer cancel()
	var addrs []netip.Addr
	var err error
	if p.outFilterRemote {
		addrs, err = p.agent.LookupHost(ctx, host, protocol.FamilyAny)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Unmap() == ip {
			return true
		}
	}
	return false
}

// connect opens the connection in the target and an interceptor the app
// connects to instead.
func (p *Proxy) connect(ctx context.Context, proc *process, r wire.Connect) *wire.Builder {
	switch r.Proto {
	case wire.ProtoUnix:
		return p.connectUnix(ctx, r.Path)
	case wire.ProtoTCP:
		if !p.s.Outgoing.TCP || !p.outgoingRemote(r.Proto, r.Addr) {
			return localResponse()
		}
	case wire.ProtoUDP:
		if !p.s.Outgoing.UDP || !p.outgoingRemote(r.Proto, r.Addr) {
			return localResponse()
		}
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	dst := netip.AddrPortFrom(r.Addr.Addr().Unmap(), r.Addr.Port()).String()
	if r.Proto == wire.ProtoUDP && r.Addr.Port() == 53 && p.s.DNS.Enabled {
		// a resolver of its own (c-ares, musl): ask the target's nameserver
		if ns, err := p.targetNameserver(ctx); err == nil {
			dst = netip.AddrPortFrom(ns, 53).String()
		} else {
			p.log.Warn("target nameserver", "err", err)
		}
	}
	if r.Proto == wire.ProtoUDP {
		pc, err := p.agent.DialUDP(ctx, dst)
		if err != nil {
			return errnoResponse(connectErrno(err))
		}
		addr, err := p.interceptUDP(pc)
		if err != nil {
			pc.Close()
			return errnoResponse(errnoOf(err))
		}
		return okResponse().Addr(addr)
	}
	conn, err := p.agent.DialTCP(ctx, dst)
	if err != nil {
		p.log.Debug("remote connect", "addr", dst, "err", err)
		return errnoResponse(connectErrno(err))
	}
	addr, err := p.interceptTCP(conn)
	if err != nil {
		conn.Close()
		return errnoResponse(errnoOf(err))
	}
	return okResponse().Addr(addr)
}

func connectErrno(err error) syscall.Errno {
	e := errnoOf(err)
	if e == syscall.EIO {
		return syscall.ENETUNREACH
	}
	return e
}

// interceptTCP listens on loopback for the app's one connection and splices
// it with the remote connection.
func (p *Proxy) interceptTCP(remote *protocol.Conn) (netip.AddrPort, error) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("interceptor: %w", err)
	}
	go func() {
		defer ln.Close()
		_ = ln.SetDeadline(time.Now().Add(interceptTimeout))
		local, err := ln.AcceptTCP()
		if err != nil {
			remote.Close()
			return
		}
		ln.Close()
		_ = local.SetNoDelay(true)
		relay.Pipe(local, remote, relay.Options{})
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort(), nil
}

// interceptUDP relays datagrams between a loopback socket and the remote
// UDP flow.
func (p *Proxy) interceptUDP(remote *protocol.PacketConn) (netip.AddrPort, error) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("udp interceptor: %w", err)
	}
	var mu sync.Mutex
	var app netip.AddrPort
	done := make(chan struct{})
	closeAll := sync.OnceFunc(func() { close(done); pc.Close(); remote.Close() })
	go func() {
		defer closeAll()
		buf := make([]byte, 64<<10)
		for {
			_ = pc.SetReadDeadline(time.Now().Add(udpIdle))
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			mu.Lock()
			app = from
			mu.Unlock()
			if err := remote.WriteDatagram(buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer closeAll()
		buf := make([]byte, 64<<10)
		for {
			n, err := remote.ReadDatagram(buf)
			if err != nil {
				return
			}
			mu.Lock()
			to := app
			mu.Unlock()
			if to.IsValid() {
				_, _ = pc.WriteToUDPAddrPort(buf[:n], to)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// connectUnix sends a unix stream connection to the target when its path
// matches outgoing.unix_streams.
func (p *Proxy) connectUnix(ctx context.Context, path string) *wire.Builder {
	match := false
	for _, u := range p.unixStreams {
		if ok, err := u.re.MatchString(path); err == nil && ok {
			match = true
			break
		}
	}
	if !match {
		return localResponse()
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := p.agent.DialUnix(ctx, path)
	if err != nil {
		return errnoResponse(connectErrno(err))
	}
	dir, err := os.MkdirTemp("", "mirrord-unix-")
	if err != nil {
		conn.Close()
		return errnoResponse(errnoOf(err))
	}
	sock := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		conn.Close()
		return errnoResponse(errnoOf(err))
	}
	go func() {
		defer os.RemoveAll(dir)
		defer ln.Close()
		_ = ln.SetDeadline(time.Now().Add(interceptTimeout))
		local, err := ln.AcceptUnix()
		if err != nil {
			conn.Close()
			return
		}
		ln.Close()
		relay.Pipe(local, conn, relay.Options{})
	}()
	return okResponse().Str(sock)
}

func eaiResponse(code int) *wire.Builder {
	return wire.NewResponse(wire.StatusEAI).U32(uint32(int32(code)))
}

// targetNameserver is the first nameserver of the target's resolv.conf.
func (p *Proxy) targetNameserver(ctx context.Context) (netip.Addr, error) {
	p.mu.Lock()
	ns := p.nameserver
	p.mu.Unlock()
	if ns.IsValid() {
		return ns, nil
	}
	data, _, err := p.agent.ReadFile(ctx, "/etc/resolv.conf", 64<<10)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("read the target's /etc/resolv.conf: %w", err)
	}
	ns, err = parseNameserver(string(data))
	if err != nil {
		return netip.Addr{}, err
	}
	p.mu.Lock()
	p.nameserver = ns
	p.mu.Unlock()
	return ns, nil
}

// parseNameserver returns the first "nameserver ADDR" of a resolv.conf.
func parseNameserver(conf string) (netip.Addr, error) {
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				return a.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, errors.New("the target's resolv.conf names no nameserver")
}
