// Package intproxy is the Go half of the layer: one process per session that
// holds the agent connection and answers the C layer (libmirrord_layer.so)
// of every process in the session over a unix socket (layer/wire).
//
// It makes every decision that needs configuration (file modes and
// patterns, outgoing and DNS filters, incoming subscriptions, process
// skipping), does the remote work through the agent protocol, and moves
// connection bytes between real local sockets and agent streams: outgoing
// connections go through a per-connection interceptor socket the app is
// connected to, incoming ones are dialled to the app's real listener.
package intproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/layer/fspolicy"
	"github.com/mirrord-ls/mirrord-ls/layer/netfilter"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Config configures a Proxy.
type Config struct {
	Settings settings.Settings
	// Agent is the connected agent client; the Proxy does not close it.
	Agent *protocol.Client
	// Registry, when set, is updated with processes and port subscriptions.
	Registry *registry.Host
	// Log receives diagnostics (discarded when nil).
	Log *slog.Logger
}

// Proxy serves layers.
type Proxy struct {
	cfg   Config
	s     settings.Settings
	agent *protocol.Client
	log   *slog.Logger
	fs    *fspolicy.Policy

	outFilter       []netfilter.Entry
	outFilterRemote bool // entries select remote traffic (else local)
	dnsFilter       []netfilter.Entry
	dnsFilterRemote bool
	unixStreams     []*unixPattern

	mu         sync.Mutex
	conns      int // live layer connections
	procs      map[uint32]*process
	names      map[netip.Addr][]string   // addresses the session resolved remotely
	subs       map[uint16]*subscription  // by remote port
	peers      map[uint16]netip.AddrPort // local port of our dial to the app -> real peer
	listening  map[uint16]int            // local ports the session's listeners use
	nameserver netip.Addr                // the target's, once read
	snapDir    string                    // directory snapshots, removed at Shutdown
	files      map[uint64]*remoteFile
	nextToken  uint64
	closes     *closeWatcher // while Serve runs (nil: write back at OpClose and exit only)
	idle       chan struct{} // signalled when conns changes
}

// New checks the settings and builds a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Agent == nil {
		return nil, errors.New("intproxy: no agent client")
	}
	if err := cfg.Settings.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fs, err := fspolicy.New(cfg.Settings.FS)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg: cfg, s: cfg.Settings, agent: cfg.Agent, log: cfg.Log, fs: fs,
		procs: map[uint32]*process{}, names: map[netip.Addr][]string{},
		subs: map[uint16]*subscription{}, peers: map[uint16]netip.AddrPort{}, listening: map[uint16]int{},
		files: map[uint64]*remoteFile{}, idle: make(chan struct{}, 1),
	}
	if p.outFilter, p.outFilterRemote, err = parseFilter(cfg.Settings.Outgoing.Filter, "feature.network.outgoing.filter"); err != nil {
		return nil, err
	}
	if p.dnsFilter, p.dnsFilterRemote, err = parseFilter(cfg.Settings.DNS.Filter, "feature.network.dns.filter"); err != nil {
		return nil, err
	}
	if p.unixStreams, err = compileUnixPatterns(cfg.Settings.Outgoing.UnixStreams); err != nil {
		return nil, err
	}
	return p, nil
}

func parseFilter(f settings.AddressFilter, at string) ([]netfilter.Entry, bool, error) {
	list, remote := f.Local, false
	if len(f.Remote) > 0 {
		list, remote = f.Remote, true
	}
	es, err := netfilter.ParseAll(list)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", at, err)
	}
	return es, remote, nil
}

// ErrIdle is returned by Serve when it stopped because no layer was
// connected for the configured idle time.
var ErrIdle = errors.New("no layer connected: idle timeout")

// Serve answers layers on ln until ctx ends, the agent connection ends, or
// the session is idle: no layer within start_idle_timeout, or none for
// idle_timeout after the last one left. It closes ln.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	context.AfterFunc(ctx, func() { ln.Close() })

	if w, err := newCloseWatcher(); err != nil {
		p.log.Warn("no close watcher: read_write files of supervised programs are written back at exit", "err", err)
	} else {
		p.mu.Lock()
		p.closes = w
		p.mu.Unlock()
		wctx, wcancel := context.WithCancel(ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(wctx, func(token uint64) {
				if err := p.writeBack(token, true); err != nil {
					p.log.Warn("write back at the last close", "err", err)
				}
			})
		}()
		defer func() {
			p.mu.Lock()
			p.closes = nil
			p.mu.Unlock()
			wcancel() // before wg.Wait
		}()
	}

	idleErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.watchIdle(ctx); err != nil {
			idleErr <- err
			cancel()
		}
	}()

	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case err := <-idleErr:
				return err
			default:
			}
			if ctx.Err() != nil {
				select {
				case <-p.agent.Done():
					return errors.New("the agent connection ended")
				default:
				}
				return nil
			}
			return fmt.Errorf("accept layer connection: %w", err)
		}
		p.addConn(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.addConn(-1)
			p.serveConn(ctx, conn)
		}()
	}
}

func (p *Proxy) addConn(d int) {
	p.mu.Lock()
	p.conns += d
	p.mu.Unlock()
	select {
	case p.idle <- struct{}{}:
	default:
	}
}

// watchIdle returns ErrIdle when the idle rules say the session is over, or
// an error when the agent connection ends, or nil when ctx ends.
func (p *Proxy) watchIdle(ctx context.Context) error {
	timeout := time.Duration(p.s.InternalProxy.StartIdleTimeout)
	seen := false
	for {
		p.mu.Lock()
		n := p.conns
		p.mu.Unlock()
		var t *time.Timer
		var timer <-chan time.Time
		if n == 0 {
			if seen {
				timeout = time.Duration(p.s.InternalProxy.IdleTimeout)
			}
			t = time.NewTimer(timeout)
			timer = t.C
		} else {
			seen = true
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-p.agent.Done():
			stop()
			return errors.New("the agent connection ended")
		case <-p.idle:
			stop()
		case <-timer:
			return ErrIdle
		}
	}
}

// serveConn answers one layer connection. The layer waits for each answer,
// so requests on a connection are handled one at a time.
func (p *Proxy) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	uc, _ := conn.(*net.UnixConn)
	context.AfterFunc(ctx, func() { conn.Close() })
	var proc *process
	defer func() {
		if proc != nil {
			p.leave(proc)
		}
	}()
	buf := make([]byte, 4096)
	for {
		payload, err := wire.ReadFrame(conn, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				p.log.Debug("layer connection", "err", err)
			}
			return
		}
		req, err := wire.Decode(payload)
		if err != nil {
			p.log.Warn("bad layer request", "err", err)
			return
		}
		if proc == nil {
			h, ok := req.(wire.Hello)
			if !ok {
				p.log.Warn("layer connection did not start with hello")
				return
			}
			proc = p.join(h)
			if err := writeResponse(uc, conn, p.helloAnswer(proc), -1); err != nil {
				return
			}
			continue
		}
		resp, fd := p.handle(ctx, proc, req)
		err = writeResponse(uc, conn, resp, fd)
		if fd >= 0 {
			closeFD(fd)
		}
		if err != nil {
			return
		}
	}
}

// handle answers one request; fd >= 0 is passed to the layer and closed.
func (p *Proxy) handle(ctx context.Context, proc *process, req any) (*wire.Builder, int) {
	switch r := req.(type) {
	case wire.Hello:
		return p.helloAnswer(proc), -1
	case wire.Open:
		return p.open(ctx, proc, r)
	case wire.Stat:
		return p.stat(ctx, proc, r), -1
	case wire.Access:
		return p.access(ctx, proc, r), -1
	case wire.ReadLink:
		return p.readLink(ctx, proc, r), -1
	case wire.DNS:
		return p.dns(ctx, r), -1
	case wire.Connect:
		return p.connect(ctx, proc, r), -1
	case wire.Bind:
		return p.bind(r), -1
	case wire.Listen:
		return p.listen(ctx, proc, r), -1
	case wire.Unlisten:
		return p.unlisten(r), -1
	case wire.Accepted:
		return p.accepted(r), -1
	case wire.CloseFile:
		return p.closeFile(ctx, r.Token), -1
	case wire.PathOp:
		return p.pathOp(ctx, proc, r), -1
	}
	return errnoResponse(errEINVAL), -1
}

// writeResponse writes a frame, passing fd with SCM_RIGHTS when >= 0.
func writeResponse(uc *net.UnixConn, conn net.Conn, b *wire.Builder, fd int) error {
	frame := b.Frame()
	if fd >= 0 && uc != nil {
		_, _, err := uc.WriteMsgUnix(frame, rightsFor(fd), nil)
		return err
	}
	_, err := conn.Write(frame)
	return err
}

// Run is what `mirrord intproxy` does: listen on path, call ready (the
// socket accepts layers from then on), serve until idle, killed (Registry)
// or ctx ends.
func Run(ctx context.Context, cfg Config, path string, ready func()) error {
	_ = os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen for layers on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("secure %s: %w", path, err)
	}
	p, err := New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if ready != nil {
		ready()
	}
	if cfg.Registry != nil {
		ctx2, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-cfg.Registry.Killed():
				cancel()
			case <-ctx2.Done():
			}
		}()
		ctx = ctx2
	}
	err = p.Serve(ctx, ln)
	p.Shutdown()
	return err
}

// Shutdown ends subscriptions and writes back files still open.
func (p *Proxy) Shutdown() {
	p.mu.Lock()
	subs := make([]*subscription, 0, len(p.subs))
	for _, s := range p.subs {
		subs = append(subs, s)
	}
	p.subs = map[uint16]*subscription{}
	tokens := make([]uint64, 0, len(p.files))
	for t := range p.files {
		tokens = append(tokens, t)
	}
	p.mu.Unlock()
	for _, s := range subs {
		s.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, t := range tokens {
		p.closeFile(ctx, t)
	}
	p.mu.Lock()
	dir := p.snapDir
	p.snapDir = ""
	p.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
