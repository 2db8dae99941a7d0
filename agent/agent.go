// Package agent is mirrord-agent: it serves the agent protocol (package
// protocol) to clients and performs their operations inside a target's
// namespaces: environment, DNS, outgoing TCP/UDP/Unix connections, files
// under the target root, and incoming traffic (package incoming).
package agent

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/dns"
	"github.com/mirrord-ls/mirrord-ls/agent/files"
	"github.com/mirrord-ls/mirrord-ls/agent/incoming"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/agent/target"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Config configures an Agent.
type Config struct {
	// Listen is the address clients connect to (in the agent's own
	// network namespace).
	Listen string
	// Token is the session secret clients must present.
	Token string
	// Target is where operations happen.
	Target target.Target
	// Targetless disables incoming traffic (no target to redirect).
	Targetless bool
	// CommunicationTimeout is how long the agent waits for its first client.
	CommunicationTimeout time.Duration
	// Linger is how long the agent stays after its last client left.
	Linger time.Duration
	// OwnerGID is the agent's group, exempted from redirection
	// (default: the process's effective gid).
	OwnerGID int
	// CleanIPTablesOnStart removes chains of a previous agent instead of
	// refusing to start.
	CleanIPTablesOnStart bool
	// Redirect chooses how incoming connections are steered to the agent:
	// RedirectAuto (default), RedirectSkLookup or RedirectIPTables.
	Redirect string
	// HandshakeTimeout bounds how long a connection may take to send its
	// Hello (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxPending bounds the connections that have not finished the
	// handshake (default DefaultMaxPending). When a new connection would
	// exceed it, the oldest pending one is closed at once.
	MaxPending int
	// Version is reported in the handshake and the ready line.
	Version string
	// Log receives the agent's log.
	Log *slog.Logger
}

// Agent serves clients.
type Agent struct {
	cfg      Config
	ns       netns.Namespace
	root     *files.Root
	resolver *dns.Resolver
	redir    *incoming.Redirector
	ipt      *incoming.IPTables
	steer    string // name of the steering in use

	mu      sync.Mutex
	clients int           // authenticated clients
	pending *list.List    // of *pendingConn: accepted connections still in the handshake, oldest first
	changed chan struct{} // closed and replaced whenever clients or pending change
	flooded bool          // a pending connection was evicted since the pending set was last empty
	freed   time.Time     // when the memory of the last flood was given back
	rejects rejectLog
}

// Defaults for the limits on connections that have not authenticated.
const (
	// DefaultHandshakeTimeout is how long a connection may take to send
	// its Hello. A client sends it at once after connecting.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultMaxPending is how many connections may be in the handshake
	// at once. Each costs a goroutine, two sockets and at most
	// protocol.MaxHelloSize bytes of buffer.
	DefaultMaxPending = 512
)

// Ways of steering incoming connections (Config.Redirect).
const (
	// RedirectAuto uses sk_lookup where the kernel has it, else iptables.
	RedirectAuto = "auto"
	// RedirectSkLookup uses an eBPF sk_lookup program, bound to the
	// agent's life by the kernel (incoming.SkLookup).
	RedirectSkLookup = "sk_lookup"
	// RedirectIPTables uses nat REDIRECT chains (incoming.IPTables).
	RedirectIPTables = "iptables"
)

// ErrDirtyIPTables is returned by New when chains of a previous agent exist.
var ErrDirtyIPTables = errors.New("iptables chains of a previous mirrord agent exist in the target")

// New prepares an agent: opens the target's namespace and root and checks
// for leftover iptables chains.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CommunicationTimeout <= 0 {
		cfg.CommunicationTimeout = 30 * time.Second
	}
	if cfg.OwnerGID == 0 {
		cfg.OwnerGID = os.Getegid()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	ns, err := netns.Open(cfg.Target.NetnsPath)
	if err != nil {
		return nil, err
	}
	root, err := files.OpenRoot(cfg.Target.Root)
	if err != nil {
		ns.Close()
		return nil, err
	}
	a := &Agent{cfg: cfg, ns: ns, root: root, pending: list.New(), changed: make(chan struct{})}
	a.resolver = &dns.Resolver{Root: cfg.Target.Root, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return ns.DialContext(ctx, &d, network, addr)
	}}
	if !cfg.Targetless {
		a.ipt = incoming.NewIPTables(ns, cfg.Target.ID, cfg.OwnerGID)
		// The chains record this process (and the guard of a worker), so
		// that the next agent removes them if both are killed at once.
		if owner, err := incoming.SelfOwner(os.Getenv(EnvWorker) == "1"); err != nil {
			cfg.Log.Warn("iptables chains will not record their owner; a later agent will need --clean-iptables-on-start if this one is killed", "err", err)
		} else {
			a.ipt.SetOwner(owner)
		}
		steer, err := a.steering()
		if err == nil {
			err = a.checkIPTables(ctx)
			if err != nil && !errors.Is(err, ErrDirtyIPTables) && steer.Name() != RedirectIPTables {
				// Chains cannot be listed (no iptables in the image): no
				// previous agent's chains can be in the way either.
				cfg.Log.Warn("cannot check for iptables chains of a previous agent", "err", err)
				err = nil
			}
			if err != nil {
				steer.Close()
			}
		}
		if err != nil {
			root.Close()
			ns.Close()
			return nil, err
		}
		a.redir = incoming.New(incoming.Config{NS: ns, Steer: steer, Log: cfg.Log})
		a.steer = steer.Name()
	}
	return a, nil
}

// steering returns the steering Config.Redirect asks for.
func (a *Agent) steering() (incoming.Steering, error) {
	switch a.cfg.Redirect {
	case "", RedirectAuto:
		sk, err := incoming.NewSkLookup()
		if err == nil {
			return sk, nil
		}
		a.cfg.Log.Warn("eBPF sk_lookup is not available; steering with iptables REDIRECT instead, "+
			"whose chains outlive an agent killed together with its guard until the next agent starts", "err", err)
		return incoming.IPTablesSteering(a.ipt), nil
	case RedirectSkLookup:
		sk, err := incoming.NewSkLookup()
		if err != nil {
			return nil, fmt.Errorf("redirect with sk_lookup: %w", err)
		}
		return sk, nil
	case RedirectIPTables:
		return incoming.IPTablesSteering(a.ipt), nil
	default:
		return nil, fmt.Errorf("unknown redirect %q (want %s, %s or %s)", a.cfg.Redirect, RedirectAuto, RedirectSkLookup, RedirectIPTables)
	}
}

// dialOutgoing dials a client's outgoing connection inside the target's
// namespace, past the agent's own steering (Redirector.DialOutgoing).
func (a *Agent) dialOutgoing(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	if a.redir != nil {
		return a.redir.DialOutgoing(ctx, d, network, address)
	}
	return a.ns.DialContext(ctx, d, network, address)
}

// checkIPTables looks for chains of a previous agent. Chains whose recorded
// owner provably no longer runs (an agent killed with its guard) are
// removed; any other chain makes New refuse, unless CleanIPTablesOnStart.
func (a *Agent) checkIPTables(ctx context.Context) error {
	chains, err := a.ipt.List(ctx)
	if err != nil {
		return fmt.Errorf("check iptables in the target: %w", err)
	}
	if len(chains) == 0 {
		return nil
	}
	if a.cfg.CleanIPTablesOnStart {
		a.cfg.Log.Warn("removing iptables chains of a previous agent", "chains", chains)
		if err := a.ipt.RemoveAll(ctx); err != nil {
			return fmt.Errorf("clean iptables chains of a previous agent: %w", err)
		}
		return nil
	}
	owners, err := a.ipt.Owners(ctx)
	if err != nil {
		return fmt.Errorf("check iptables in the target: %w", err)
	}
	var stale, live []string
	for _, c := range chains {
		o, ok := owners[c]
		if !ok {
			live = append(live, c+" (no owner recorded)")
			continue
		}
		gone, why := o.Gone()
		if !gone {
			live = append(live, c+" ("+why+")")
			continue
		}
		a.cfg.Log.Warn("removing iptables chain of a previous agent that no longer runs", "chain", c, "reason", why)
		stale = append(stale, c)
	}
	if len(stale) > 0 {
		if err := a.ipt.RemoveChains(ctx, stale); err != nil {
			return fmt.Errorf("remove iptables chains of a previous agent that no longer runs: %w", err)
		}
	}
	if len(live) > 0 {
		return fmt.Errorf("%w: %s; another agent may still run on this target, or one died without cleaning up; "+
			"remove them or start the agent with --clean-iptables-on-start", ErrDirtyIPTables, strings.Join(live, ", "))
	}
	return nil
}

// Capabilities lists what this agent serves.
func (a *Agent) Capabilities() []string {
	caps := []string{protocol.CapEnv, protocol.CapDNS, protocol.CapTCP, protocol.CapUDP, protocol.CapUnix, protocol.CapFiles}
	if !a.cfg.Targetless {
		caps = append(caps, protocol.CapSteal, protocol.CapMirror, protocol.CapHTTPFilter)
	}
	return caps
}

// Run listens, prints the ready line, serves clients and returns when the
// agent's lifetime ends: ctx cancelled, no first client within the
// communication timeout, the last client gone (after the linger), or the
// target process exited. Everything it installed is removed before it
// returns.
func (a *Agent) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.Listen)
	if err != nil {
		a.release()
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	return a.serve(ctx, ln, func() {
		// The ready line is what launchers wait for; the address line
		// before it tells them the port when --listen asked for port 0.
		fmt.Fprintf(os.Stdout, "listening on %s\nagent ready - version %s\n", ln.Addr(), a.cfg.Version)
	})
}

// Serve is Run on a listener of the caller's (Config.Listen is not used and
// no ready line is printed). It closes ln.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	return a.serve(ctx, ln, func() {})
}

// release closes what New opened and removes what the agent installed.
func (a *Agent) release() {
	if a.redir != nil {
		if err := a.redir.Close(); err != nil {
			a.cfg.Log.Error("remove "+a.steer+" steering", "err", err)
		}
	}
	a.root.Close()
	a.ns.Close()
}

func (a *Agent) serve(ctx context.Context, ln net.Listener, ready func()) error {
	defer a.release()
	defer ln.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	if a.cfg.Target.PID > 0 {
		if err := watchProcess(ctx, a.cfg.Target.PID, func() {
			cancel(fmt.Errorf("target process %d exited", a.cfg.Target.PID))
		}); err != nil {
			return err
		}
	}
	a.cfg.Log.Info("serving", "target", a.cfg.Target.ID, "netns", a.cfg.Target.NetnsPath, "root", a.cfg.Target.Root,
		"redirect", a.steer, "handshake_timeout", a.cfg.HandshakeTimeout, "max_pending", a.cfg.MaxPending)
	ready()
	go a.lifetime(ctx, cancel)

	var wg sync.WaitGroup
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of file descriptors or a similar passing condition
			// (a flood of connections): wait and accept again rather
			// than end every client's session.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			a.cfg.Log.Warn("accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
			}
			break
		}
		backoff = 0
		// Counted from accept, so a client whose handshake is under way
		// is given its chance before the agent's lifetime ends.
		el := a.addPending(conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.serveClient(ctx, conn, el)
		}()
	}
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		a.cfg.Log.Info("agent exits", "reason", cause.Error())
	}
	return nil
}

// addPending records conn as pending. When that makes more than MaxPending,
// the oldest pending connection is closed at once: its handshake read fails
// and its goroutine ends. Evicting the oldest rather than refusing the
// newest keeps the agent reachable under a flood: a client sends its Hello
// right after connecting, so it finishes long before MaxPending newer
// connections push it out, while a stranger that holds its connection open
// without authenticating is pushed out by the next ones.
func (a *Agent) addPending(conn net.Conn) *list.Element {
	a.mu.Lock()
	el := a.pending.PushBack(&pendingConn{conn: conn})
	var evict *pendingConn
	if a.pending.Len() > a.cfg.MaxPending {
		evict = a.pending.Remove(a.pending.Front()).(*pendingConn)
		evict.evicted = true
		a.flooded = true
	}
	a.notifyLocked()
	a.mu.Unlock()
	if evict != nil {
		a.rejects.note(a.cfg.Log, "closed the oldest connection still in the handshake (too many pending)")
		_ = evict.conn.Close()
	}
	return el
}

// pendingConn is a connection in the handshake.
type pendingConn struct {
	conn    net.Conn
	evicted bool // closed by addPending; guarded by Agent.mu
}

// donePending ends a connection's pending state. With authenticated it
// counts the connection as a client and reports true, unless addPending has
// evicted (closed) it meanwhile.
func (a *Agent) donePending(el *list.Element, authenticated bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	pc := el.Value.(*pendingConn)
	if pc.evicted {
		return false
	}
	a.pending.Remove(el)
	if authenticated {
		a.clients++
	}
	if a.flooded && a.pending.Len() == 0 && time.Since(a.freed) > 10*time.Second {
		// A flood of strangers is over: give its memory back to the
		// system now rather than whenever the runtime gets to it (an
		// idle agent allocates too little to trigger a collection, and
		// its RSS would stay at the flood's peak). At most every 10 s.
		a.flooded = false
		a.freed = time.Now()
		go debug.FreeOSMemory()
	}
	a.notifyLocked()
	return authenticated
}

// PendingHandshakes reports how many connections are in the handshake.
func (a *Agent) PendingHandshakes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending.Len()
}

// errLifetime causes.
var (
	errNoClient   = errors.New("no client connected within the communication timeout")
	errLastClient = errors.New("the last client left")
)

// lifetime ends the agent when no client came within the communication
// timeout or the last one left (after the linger). Connections still in the
// handshake do not move that moment; when it comes while some are pending,
// the agent waits at most one more handshake timeout for one of them to
// become a client, so strangers cannot keep it alive.
func (a *Agent) lifetime(ctx context.Context, cancel context.CancelCauseFunc) {
	deadline := time.Now().Add(a.cfg.CommunicationTimeout)
	seen, busy := false, false
	timer := time.NewTimer(a.cfg.CommunicationTimeout)
	defer timer.Stop()
	for {
		a.mu.Lock()
		n, pending, changed := a.clients, a.pending.Len(), a.changed
		a.mu.Unlock()
		if n > 0 {
			seen, busy = true, true
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		if busy {
			busy = false
			deadline = time.Now().Add(a.cfg.Linger)
		}
		wake := deadline
		if !time.Now().Before(deadline) {
			grace := deadline.Add(a.cfg.HandshakeTimeout)
			if pending == 0 || !time.Now().Before(grace) {
				if seen {
					cancel(errLastClient)
				} else {
					cancel(errNoClient)
				}
				return
			}
			wake = grace
		}
		timer.Reset(time.Until(wake))
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// notifyLocked wakes the lifetime loop; a.mu is held.
func (a *Agent) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// clientLeft counts an authenticated client out.
func (a *Agent) clientLeft() {
	a.mu.Lock()
	a.clients--
	a.notifyLocked()
	a.mu.Unlock()
}

// rejectLog logs refused connections at most once a second, with how many
// were not logged in between, so a flood of strangers does not flood the
// log.
type rejectLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *rejectLog) note(log *slog.Logger, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "not_logged_since_last", n)
	}
	log.Warn(msg, args...)
}
