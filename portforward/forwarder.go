// Package portforward forwards local ports into a target's network
// namespace (-L) and the target's incoming traffic to local ports (-R),
// through a mirrord agent, like `mirrord port-forward`.
//
//   - -L listens locally; nothing reaches the agent until the local side
//     sends its first byte; the host is then resolved by the agent (so
//     cluster names work) and the connection is made from inside the
//     target.
//   - -R subscribes to a port of the target (mirror, steal, or filtered
//     steal) and delivers each incoming connection or request locally.
//   - When the target is a workload and its pod goes away, the forwarder
//     re-resolves the target, brings up an agent for the new pod (through
//     its AgentSource) and carries on: connections on the old pod end,
//     listeners stay, and new connections wait for the new agent. A pod
//     target going away ends the run with an error.
package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Incoming is how -R routes subscribe: the mode and HTTP filter of the
// config's feature.network.incoming.
type Incoming struct {
	// Mode is protocol.ModeMirror (the default) or protocol.ModeSteal.
	Mode protocol.Mode
	// Filter, when set, makes the subscription HTTP-filtered.
	Filter *protocol.HTTPFilter
	// FilterPorts limits the filter to these remote ports (nil: all).
	FilterPorts []uint16
}

// filterFor returns the filter of a remote port.
func (in Incoming) filterFor(port uint16) *protocol.HTTPFilter {
	if in.Filter == nil || (len(in.FilterPorts) > 0 && !slices.Contains(in.FilterPorts, port)) {
		return nil
	}
	return in.Filter
}

// Config configures a Forwarder.
type Config struct {
	Routes Routes
	// ListenAddress is the IP -L listens on (default 127.0.0.1).
	ListenAddress string
	// DeliverAddress is the IP -R delivers to (default 127.0.0.1).
	DeliverAddress string
	// Tracker finds the target's pod; nil runs targetless.
	Tracker Tracker
	// Agents connects to an agent for a pod.
	Agents AgentSource
	// Pods, when set, carries -L connections to the target pod's own
	// loopback (localhost, 127.0.0.0/8, ::1) straight through the
	// kubelet's port-forward, as kubectl port-forward does: the same path
	// and the same meaning, without the agent's hop. Other destinations,
	// and every connection when it fails, go through the agent.
	Pods     PodPorts
	Incoming Incoming
	// Report receives status lines; nil reports nothing.
	Report *Reporter
	// AgentWait bounds how long a connection waits for an agent while the
	// target's pod is replaced (default 60 s).
	AgentWait time.Duration
	// Reconnect bounds how long a lost agent (with its pod still there) is
	// reconnected to before the run fails (default 60 s).
	Reconnect time.Duration
}

// PodPorts opens connections to ports on a pod's loopback
// (kube/agentpod.Tunnels).
type PodPorts interface {
	DialPod(ctx context.Context, namespace, pod string, port uint16) (io.ReadWriteCloser, error)
	// Use says the target is now namespace/pod: what was opened to other
	// pods may go, and the way to this one is prepared (it returns when it
	// is, or when ctx ends).
	Use(ctx context.Context, namespace, pod string)
}

// Forwarder runs the routes of one command.
type Forwarder struct {
	cfg   Config
	slot  *agentSlot
	rep   *Reporter
	dests dests

	listeners []net.Listener
	ready     chan struct{}
	readyOnce sync.Once

	connID atomic.Uint64
	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	httpMu      sync.Mutex
	httpClients map[uint16]*localHTTP
}

// New checks the configuration and opens the -L listeners (so a port in
// use fails at once).
func New(cfg Config) (*Forwarder, error) {
	if cfg.Agents == nil {
		return nil, errors.New("portforward: no agent source")
	}
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = "127.0.0.1"
	}
	if cfg.DeliverAddress == "" {
		cfg.DeliverAddress = "127.0.0.1"
	}
	if cfg.Incoming.Mode == "" {
		cfg.Incoming.Mode = protocol.ModeMirror
	}
	if cfg.Incoming.Mode != protocol.ModeMirror && cfg.Incoming.Mode != protocol.ModeSteal {
		return nil, fmt.Errorf("incoming mode %q: -R needs mirror or steal", cfg.Incoming.Mode)
	}
	if cfg.AgentWait <= 0 {
		cfg.AgentWait = 60 * time.Second
	}
	if cfg.Reconnect <= 0 {
		cfg.Reconnect = 60 * time.Second
	}
	f := &Forwarder{cfg: cfg, slot: newAgentSlot(), rep: cfg.Report, ready: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, httpClients: map[uint16]*localHTTP{}}
	for _, r := range cfg.Routes.Local {
		addr := net.JoinHostPort(cfg.ListenAddress, strconv.Itoa(int(r.LocalPort)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			f.closeListeners()
			return nil, fmt.Errorf("-L %s: listen on %s: %w", r, addr, err)
		}
		f.listeners = append(f.listeners, ln)
	}
	return f, nil
}

// LocalAddr is the address the i-th -L route listens on.
func (f *Forwarder) LocalAddr(i int) net.Addr { return f.listeners[i].Addr() }

// Ready is closed once every route is up for the first time.
func (f *Forwarder) Ready() <-chan struct{} { return f.ready }

func (f *Forwarder) closeListeners() {
	for _, ln := range f.listeners {
		ln.Close()
	}
}

func (f *Forwarder) target() string {
	if f.cfg.Tracker == nil {
		return "targetless"
	}
	return f.cfg.Tracker.Target()
}

// Run forwards until ctx ends (nil) or the target is lost for good (an
// error). The listeners are closed when it returns.
func (f *Forwarder) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		f.closeListeners()
		f.closeConns()
		f.wg.Wait()
		f.closeHTTP()
	}()
	for i := range f.listeners {
		f.wg.Add(1)
		go f.acceptLoop(ctx, i)
	}
	var (
		pod       *resolve.Result
		firstTime = true
	)
	for {
		client, res, err := f.attach(ctx, pod, firstTime)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		pod = res
		where := f.target()
		if res != nil {
			where = fmt.Sprintf("%s (pod %s/%s)", f.target(), res.Pod.Namespace, res.Pod.Name)
		}
		lost, err := f.serve(ctx, client, res, where, firstTime)
		firstTime = false
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if lost.podGone {
			if f.cfg.Tracker == nil || !f.cfg.Tracker.Follows() {
				f.rep.Statusf("target lost: %s; a pod target is not followed (target its deployment, rollout or statefulset to follow replacements)", lost.why)
				return fmt.Errorf("%w: %s", ErrTargetGone, lost.why)
			}
			f.rep.Statusf("target pod gone: %s; re-resolving %s", lost.why, f.target())
			pod = nil
		} else {
			f.rep.Statusf("agent connection lost (%s); reconnecting", lost.why)
			if f.cfg.Tracker != nil && f.cfg.Tracker.Follows() {
				pod = nil
			}
		}
	}
}

// loss is why an attached agent was given up.
type loss struct {
	podGone bool
	why     string
}

// attach resolves the target (when pod is nil) and connects an agent. The
// first time, errors end the run; later (healing) it retries: for a
// followed target until a new pod is found, otherwise for cfg.Reconnect.
func (f *Forwarder) attach(ctx context.Context, pod *resolve.Result, firstTime bool) (*protocol.Client, *resolve.Result, error) {
	tr := f.cfg.Tracker
	var deadline time.Time
	if !firstTime && (tr == nil || !tr.Follows()) {
		deadline = time.Now().Add(f.cfg.Reconnect)
	}
	backoff := 50 * time.Millisecond
	lastErr := ""
	for {
		res := pod
		var err error
		if tr != nil && res == nil {
			res, err = tr.Resolve(ctx)
		} else if tr != nil && !firstTime && !tr.Follows() {
			// Same pod: make sure it is still the one we had.
			var now *resolve.Result
			if now, err = tr.Resolve(ctx); err == nil && now.Pod.UID != pod.Pod.UID {
				return nil, nil, fmt.Errorf("%w: pod %s was replaced", ErrTargetGone, pod.Pod.Name)
			}
		}
		var client *protocol.Client
		if err == nil {
			client, err = f.connect(ctx, res)
			if err == nil {
				return client, res, nil
			}
		}
		if firstTime || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("target %s: %w", f.target(), err)
		}
		var nf *resolve.NotFoundError
		if tr != nil && !tr.Follows() && errors.As(err, &nf) {
			return nil, nil, fmt.Errorf("%w: %v", ErrTargetGone, err)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("target %s: gave up reconnecting after %s: %w", f.target(), f.cfg.Reconnect, err)
		}
		if msg := err.Error(); msg != lastErr {
			f.rep.Statusf("waiting for %s: %s", f.target(), msg)
			lastErr = msg
		}
		if !sleepCtx(ctx, backoff) {
			return nil, nil, ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

// connect brings up the agent for res and checks it can serve the routes.
func (f *Forwarder) connect(ctx context.Context, res *resolve.Result) (*protocol.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client, err := f.cfg.Agents.Connect(cctx, res)
	if err != nil {
		return nil, err
	}
	if len(f.cfg.Routes.Remote) > 0 {
		w := client.Welcome()
		need := protocol.CapMirror
		if f.cfg.Incoming.Mode == protocol.ModeSteal {
			need = protocol.CapSteal
		}
		if !w.Has(need) {
			client.Close()
			return nil, fmt.Errorf("-R needs a target: the agent offers no %s (a targetless agent receives no incoming traffic)", need)
		}
		if f.cfg.Incoming.Filter != nil && !w.Has(protocol.CapHTTPFilter) {
			client.Close()
			return nil, fmt.Errorf("-R with an HTTP filter: the agent offers no %s", protocol.CapHTTPFilter)
		}
	}
	return client, nil
}

// serve publishes client, subscribes the -R routes and waits until the
// run ends, the agent connection drops or the pod goes.
func (f *Forwarder) serve(ctx context.Context, client *protocol.Client, res *resolve.Result, where string, firstTime bool) (loss, error) {
	gctx, gcancel := context.WithCancel(ctx)
	var routesWG sync.WaitGroup
	defer func() {
		f.slot.set(nil, "", nil)
		gcancel()
		client.Close() // ends every stream of this agent: its connections close
		routesWG.Wait()
	}()

	subs, err := f.subscribeAll(gctx, client, where)
	if err != nil {
		if firstTime {
			return loss{}, err
		}
		f.rep.Statusf("%v", err)
		// Do not hammer an agent that refuses: try again in a second.
		sleepCtx(ctx, time.Second)
		return loss{why: err.Error()}, nil
	}
	for i, sub := range subs {
		routesWG.Add(1)
		go func() {
			defer routesWG.Done()
			f.acceptIncoming(gctx, f.cfg.Routes.Remote[i], sub)
		}()
	}
	f.slot.set(client, where, res)
	// Prepared before "ready": the -L hosts resolved in the target and
	// the tunnel to its pod open, so the first connection waits for
	// neither (a failure is met, and reported, by that connection).
	wctx, wcancel := context.WithTimeout(gctx, 10*time.Second)
	var warm sync.WaitGroup
	if f.cfg.Pods != nil && res != nil && res.Pod != nil {
		warm.Go(func() { f.cfg.Pods.Use(wctx, res.Pod.Namespace, res.Pod.Name) })
	}
	warm.Go(func() { f.warmDests(wctx, client) })
	warm.Wait()
	wcancel()
	for i, r := range f.cfg.Routes.Local {
		f.rep.Statusf("-L %s -> %s ready (via %s)", f.listeners[i].Addr(), r.Dest(), where)
	}
	for _, r := range f.cfg.Routes.Remote {
		mode := string(f.cfg.Incoming.Mode)
		if f.cfg.Incoming.filterFor(r.RemotePort) != nil {
			mode += ", HTTP filter"
		}
		f.rep.Statusf("-R %s:%d -> %s ready (%s)", where, r.RemotePort, f.deliverAddr(r), mode)
	}
	f.readyOnce.Do(func() { close(f.ready) })

	gone := make(chan loss, 1)
	if res != nil && f.cfg.Tracker != nil {
		go func() {
			why, err := f.cfg.Tracker.WaitGone(gctx, res)
			if err == nil {
				gone <- loss{podGone: true, why: why}
			}
		}()
	}
	select {
	case <-ctx.Done():
		return loss{}, nil
	case l := <-gone:
		return l, nil
	case <-client.Done():
		// The agent usually goes with its pod; give the watch a moment to
		// say so, so the right decision (follow or fail) is taken.
		if res != nil && f.cfg.Tracker != nil {
			select {
			case l := <-gone:
				return l, nil
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return loss{}, nil
			}
		}
		return loss{why: "agent closed the connection"}, nil
	}
}

func (f *Forwarder) deliverAddr(r RemoteRoute) string {
	return net.JoinHostPort(f.cfg.DeliverAddress, strconv.Itoa(int(r.LocalPort)))
}

// track registers a connection to be closed when the run ends; false when
// the run already ended.
func (f *Forwarder) track(c net.Conn) bool {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.connMu.Lock()
	delete(f.conns, c)
	f.connMu.Unlock()
}

func (f *Forwarder) closeConns() {
	f.connMu.Lock()
	f.closed = true
	conns := f.conns
	f.conns = map[net.Conn]struct{}{}
	f.connMu.Unlock()
	for c := range conns {
		c.Close()
	}
}
