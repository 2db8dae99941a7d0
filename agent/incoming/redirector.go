// Package incoming redirects a target's incoming TCP connections to the
// agent and hands them, or the HTTP requests on them, to subscribed clients.
//
// The agent listens inside the target's network namespace and steers new
// connections to every subscribed port to that listener (see Steering): by
// default with an eBPF sk_lookup program that the kernel detaches when the
// agent's process ends (SkLookup), or with nat REDIRECT rules in chains of
// its own (IPTables). Its own pass-through connections to the app are
// exempt from the steering.
//
//   - steal: the connection goes to the subscribed client;
//   - mirror: the connection goes on to the real app, and every mirror
//     client gets a copy of the bytes the peer sent;
//   - filtered steal (or a filtered mirror): the connection is parsed as
//     HTTP/1.x; each request is matched against the filters and goes to the
//     first matching stealer or on to the app. Connections that are not
//     HTTP (decided within DetectTimeout) pass through untouched.
package incoming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Stream is a stream to a client, opened by Opener.
type Stream interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Opener opens incoming streams towards one client.
type Opener interface {
	// OpenIncoming opens a stream and sends hdr as its first message.
	OpenIncoming(ctx context.Context, hdr protocol.Incoming) (Stream, error)
}

// Config configures a Redirector.
type Config struct {
	// NS is the target's network namespace.
	NS netns.Namespace
	// Steer takes the target's connections to the agent (SkLookup or
	// IPTablesSteering).
	Steer Steering
	// Log receives warnings.
	Log *slog.Logger
	// DetectTimeout bounds HTTP detection on filtered ports (default 2 s).
	DetectTimeout time.Duration
}

// Redirector owns the listener, the steering and the subscriptions of one
// target.
type Redirector struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	ln        *net.TCPListener
	installed bool
	ports     map[uint16]*portSubs
	conns     map[io.Closer]struct{}
	closed    bool
	wg        sync.WaitGroup
}

type subscription struct {
	id     uint64
	client Opener
	mode   protocol.Mode
	filter *Filter
}

type portSubs struct {
	steal    *subscription   // unfiltered stealer
	filtered []*subscription // filtered stealers, in subscription order
	mirrors  []*subscription
}

func (p *portSubs) empty() bool {
	return p.steal == nil && len(p.filtered) == 0 && len(p.mirrors) == 0
}

func (p *portSubs) clone() portSubs {
	return portSubs{
		steal:    p.steal,
		filtered: append([]*subscription(nil), p.filtered...),
		mirrors:  append([]*subscription(nil), p.mirrors...),
	}
}

// needsHTTP reports whether connections must be parsed as HTTP.
func (p *portSubs) needsHTTP() bool {
	if p.steal != nil {
		return false
	}
	if len(p.filtered) > 0 {
		return true
	}
	for _, m := range p.mirrors {
		if m.filter != nil {
			return true
		}
	}
	return false
}

// New returns a Redirector; nothing is installed until the first Subscribe.
func New(cfg Config) *Redirector {
	if cfg.DetectTimeout <= 0 {
		cfg.DetectTimeout = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Redirector{cfg: cfg, ctx: ctx, cancel: cancel, ports: map[uint16]*portSubs{}, conns: map[io.Closer]struct{}{}}
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("incoming traffic redirector closed")

// Subscribe adds a subscription of client and returns the function that
// removes it. A port is steered from its first subscription to its last;
// the steering is installed with the first port and removed with the last.
func (r *Redirector) Subscribe(ctx context.Context, client Opener, req protocol.SubscribeRequest) (func(), error) {
	if err := req.Validate(); err != nil {
		return nil, protocol.ErrorFrom(protocol.CodeBadRequest, err)
	}
	sub := &subscription{id: req.ID, client: client, mode: req.Mode}
	if req.Filter != nil {
		f, err := CompileFilter(req.Filter)
		if err != nil {
			return nil, protocol.ErrorFrom(protocol.CodeBadRequest, err)
		}
		sub.filter = f
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	p := r.ports[req.Port]
	if p != nil && req.Mode == protocol.ModeSteal && sub.filter == nil && p.steal != nil {
		return nil, protocol.Errorf(protocol.CodePortInUse, "port %d is already stolen by another subscription", req.Port)
	}
	if err := r.ensureListener(ctx); err != nil {
		return nil, protocol.ErrorFrom(protocol.CodeInternal, err)
	}
	if !r.installed {
		if err := r.cfg.Steer.Install(ctx, r.cfg.NS, r.ln); err != nil {
			_ = r.cfg.Steer.Uninstall(context.WithoutCancel(ctx))
			return nil, protocol.ErrorFrom(protocol.CodeInternal, err)
		}
		r.installed = true
		if r.cfg.Steer.Name() == "iptables" {
			r.cfg.Log.Warn("iptables steering redirects IPv4 only: IPv6 connections to subscribed ports reach the target's app, not the agent")
		}
	}
	if p == nil {
		if err := r.cfg.Steer.AddPort(ctx, req.Port); err != nil {
			r.removeChainsIfUnusedLocked()
			return nil, protocol.ErrorFrom(protocol.CodeInternal, err)
		}
		p = &portSubs{}
		r.ports[req.Port] = p
	}
	switch {
	case req.Mode == protocol.ModeMirror:
		p.mirrors = append(p.mirrors, sub)
	case sub.filter != nil:
		p.filtered = append(p.filtered, sub)
	default:
		p.steal = sub
	}
	var once sync.Once
	return func() { once.Do(func() { r.unsubscribe(req.Port, sub) }) }, nil
}

func (r *Redirector) unsubscribe(port uint16, sub *subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.ports[port]
	if p == nil {
		return
	}
	if p.steal == sub {
		p.steal = nil
	}
	p.filtered = remove(p.filtered, sub)
	p.mirrors = remove(p.mirrors, sub)
	if !p.empty() {
		return
	}
	delete(r.ports, port)
	if r.closed {
		return
	}
	if err := r.cfg.Steer.RemovePort(context.Background(), port); err != nil {
		r.cfg.Log.Warn("stop steering port", "port", port, "err", err)
	}
	r.removeChainsIfUnusedLocked()
}

func (r *Redirector) removeChainsIfUnusedLocked() {
	if len(r.ports) > 0 || !r.installed {
		return
	}
	if err := r.cfg.Steer.Uninstall(context.Background()); err != nil {
		r.cfg.Log.Warn("remove "+r.cfg.Steer.Name()+" steering", "err", err)
		return
	}
	r.installed = false
}

func remove(list []*subscription, s *subscription) []*subscription {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (r *Redirector) ensureListener(ctx context.Context) error {
	if r.ln != nil {
		return nil
	}
	ln, err := r.cfg.Steer.Listen(ctx, r.cfg.NS)
	if err != nil {
		return fmt.Errorf("listen for redirected connections: %w", err)
	}
	r.ln = ln
	r.wg.Add(1)
	go r.acceptLoop(r.ln)
	return nil
}

// Close removes the steering, closes the listener and every connection
// being served.
func (r *Redirector) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var err error
	if r.installed {
		err = r.cfg.Steer.Uninstall(context.Background())
		r.installed = false
	}
	r.ports = map[uint16]*portSubs{}
	if r.ln != nil {
		r.ln.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	// After the connections' goroutines: a pass-through dial may still
	// use the steering's maps until then.
	if cerr := r.cfg.Steer.Close(); err == nil {
		err = cerr
	}
	return err
}

// track registers c to be closed by Close; it returns false when closed.
func (r *Redirector) track(c io.Closer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Redirector) untrack(c io.Closer) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

func (r *Redirector) acceptLoop(ln *net.TCPListener) {
	defer r.wg.Done()
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.cfg.Log.Warn("accept redirected connection", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.untrack(c)
			defer c.Close()
			r.serve(c)
		}()
	}
}

func (r *Redirector) snapshot(port uint16) (portSubs, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.ports[port]
	if p == nil {
		return portSubs{}, false
	}
	return p.clone(), true
}

// serve handles one redirected connection.
func (r *Redirector) serve(c *net.TCPConn) {
	orig, err := r.cfg.Steer.OriginalDst(c)
	if err != nil {
		r.cfg.Log.Warn("redirected connection without original destination", "err", err)
		return
	}
	if orig.Port() == uint16(r.ln.Addr().(*net.TCPAddr).Port) {
		// Made to the listener itself, not steered: passing it through
		// would connect the agent to itself.
		return
	}
	subs, _ := r.snapshot(orig.Port())
	hdr := protocol.Incoming{Kind: protocol.KindIncoming, Remote: c.RemoteAddr().String(), Local: orig.String()}
	switch {
	case subs.steal != nil:
		h := hdr
		h.Subscription, h.Mode = subs.steal.id, protocol.ModeSteal
		st, err := subs.steal.client.OpenIncoming(r.ctx, h)
		if err != nil {
			r.cfg.Log.Warn("open stolen connection stream; passing through", "err", err)
			r.passthrough(c, c, orig, r.openMirrors(subs.mirrors, hdr))
			return
		}
		if !r.track(st) {
			st.Close()
			return
		}
		defer r.untrack(st)
		splice(c, c, st, st, r.openMirrors(subs.mirrors, hdr))
	case subs.needsHTTP():
		r.serveHTTP(c, orig, hdr)
	default:
		r.passthrough(c, c, orig, r.openMirrors(subs.mirrors, hdr))
	}
}

// dialApp connects to the real app at orig from inside the namespace, past
// the steering.
func (r *Redirector) dialApp(orig netip.AddrPort) (*net.TCPConn, error) {
	return r.cfg.Steer.DialApp(r.ctx, r.cfg.NS, orig)
}

// DialOutgoing dials network/address from inside the namespace for a
// client's outgoing connection, with d's settings. A TCP connection to an
// address of the namespace is exempt from the steering: a client that
// steals a port still reaches the target's own app on it, as with the
// iptables rules (which exempt the agent's group).
func (r *Redirector) DialOutgoing(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	dst, err := netip.ParseAddrPort(address)
	if network != "tcp" || err != nil {
		return r.cfg.NS.DialContext(ctx, d, network, address)
	}
	c, err := r.cfg.Steer.DialExempt(ctx, r.cfg.NS, d, dst)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// passthrough connects the peer (reading from in) to the app, copying what
// the peer sends to the mirror taps.
func (r *Redirector) passthrough(in io.Reader, c *net.TCPConn, orig netip.AddrPort, taps []*tap) {
	up, err := r.dialApp(orig)
	if err != nil {
		r.cfg.Log.Warn("pass through", "err", err)
		closeTaps(taps)
		return
	}
	if !r.track(up) {
		up.Close()
		closeTaps(taps)
		return
	}
	defer r.untrack(up)
	defer up.Close()
	splice(in, c, up, up, taps)
}

func (r *Redirector) openMirrors(mirrors []*subscription, hdr protocol.Incoming) []*tap {
	var taps []*tap
	for _, m := range mirrors {
		h := hdr
		h.Subscription, h.Mode = m.id, protocol.ModeMirror
		st, err := m.client.OpenIncoming(r.ctx, h)
		if err != nil {
			r.cfg.Log.Warn("open mirror stream", "err", err)
			continue
		}
		taps = append(taps, newTap(st, r.cfg.Log))
	}
	return taps
}
