// Package agent is mirrord-agent: it serves the agent protocol (package
// protocol) to clients and performs their operations inside a target's
// namespaces: environment, DNS, outgoing TCP/UDP/Unix connections, files
// under the target root, and incoming traffic (package incoming).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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

	mu      sync.Mutex
	clients int           // authenticated clients
	pending int           // accepted connections still in the handshake
	changed chan struct{} // closed and replaced whenever clients or pending change
}

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
	ns, err := netns.Open(cfg.Target.NetnsPath)
	if err != nil {
		return nil, err
	}
	root, err := files.OpenRoot(cfg.Target.Root)
	if err != nil {
		ns.Close()
		return nil, err
	}
	a := &Agent{cfg: cfg, ns: ns, root: root, changed: make(chan struct{})}
	a.resolver = &dns.Resolver{Root: cfg.Target.Root, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return ns.DialContext(ctx, &d, network, addr)
	}}
	if !cfg.Targetless {
		a.ipt = incoming.NewIPTables(ns, cfg.Target.ID, cfg.OwnerGID)
		if err := a.checkIPTables(ctx); err != nil {
			root.Close()
			ns.Close()
			return nil, err
		}
		a.redir = incoming.New(incoming.Config{NS: ns, IPT: a.ipt, Log: cfg.Log})
	}
	return a, nil
}

func (a *Agent) checkIPTables(ctx context.Context) error {
	chains, err := a.ipt.List(ctx)
	if err != nil {
		return fmt.Errorf("check iptables in the target: %w", err)
	}
	if len(chains) == 0 {
		return nil
	}
	if !a.cfg.CleanIPTablesOnStart {
		return fmt.Errorf("%w: %v; another agent may still run on this target, or one died without cleaning up; "+
			"remove them or start the agent with --clean-iptables-on-start", ErrDirtyIPTables, chains)
	}
	a.cfg.Log.Warn("removing iptables chains of a previous agent", "chains", chains)
	if err := a.ipt.RemoveAll(ctx); err != nil {
		return fmt.Errorf("clean iptables chains of a previous agent: %w", err)
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
	defer a.ns.Close()
	defer a.root.Close()
	if a.redir != nil {
		defer func() {
			if err := a.redir.Close(); err != nil {
				a.cfg.Log.Error("remove iptables chains", "err", err)
			}
		}()
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
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
	a.cfg.Log.Info("serving", "target", a.cfg.Target.ID, "netns", a.cfg.Target.NetnsPath, "root", a.cfg.Target.Root)
	// The ready line is what launchers wait for; the address line before it
	// tells them the port when --listen asked for port 0.
	fmt.Fprintf(os.Stdout, "listening on %s\nagent ready - version %s\n", ln.Addr(), a.cfg.Version)
	go a.lifetime(ctx, cancel)

	var wg sync.WaitGroup
	for {
		conn, err := ln.Accept()
		if err != nil {
			break
		}
		// Counted from accept, so a client whose handshake is under way
		// keeps the agent alive even if every other client leaves now.
		a.updateClients(0, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.serveClient(ctx, conn)
		}()
	}
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		a.cfg.Log.Info("agent exits", "reason", cause.Error())
	}
	return nil
}

// errLifetime causes.
var (
	errNoClient   = errors.New("no client connected within the communication timeout")
	errLastClient = errors.New("the last client left")
)

// lifetime ends the agent when no client came or the last one left. A
// connection still in its handshake counts as neither: while one is pending
// no timeout ends the agent.
func (a *Agent) lifetime(ctx context.Context, cancel context.CancelCauseFunc) {
	first := time.NewTimer(a.cfg.CommunicationTimeout)
	defer first.Stop()
	seen := false
	for {
		a.mu.Lock()
		n, pending, changed := a.clients, a.pending, a.changed
		a.mu.Unlock()
		switch {
		case n > 0 || pending > 0:
			seen = seen || n > 0
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		case !seen:
			select {
			case <-changed:
				continue
			case <-first.C:
				cancel(errNoClient)
				return
			case <-ctx.Done():
				return
			}
		}
		linger := time.NewTimer(a.cfg.Linger)
		select {
		case <-changed:
			linger.Stop()
			continue
		case <-linger.C:
			cancel(errLastClient)
			return
		case <-ctx.Done():
			linger.Stop()
			return
		}
	}
}

// updateClients changes the client and pending counts in one step.
func (a *Agent) updateClients(clients, pending int) {
	a.mu.Lock()
	a.clients += clients
	a.pending += pending
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}
