package incoming

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/mirrord-ls/mirrord-ls/agent/netns"
)

// Steering takes new connections to subscribed ports of the target away
// from the target's app and hands them to the agent's listener. A
// Redirector uses one of two:
//
//   - SkLookup (the default): an eBPF sk_lookup program attached to the
//     target's network namespace through a link only the agent's file
//     descriptors hold. The kernel detaches it when the agent's process
//     ends, however it ends, so nothing can outlive the agent.
//   - IPTablesSteering (the fallback for kernels without sk_lookup, or
//     when asked for): nat REDIRECT rules in chains of the agent's own,
//     which the guard, or the next agent once their owner is provably
//     gone, removes.
type Steering interface {
	// Name is "sk_lookup" or "iptables", for logs.
	Name() string
	// Listen opens the agent's listener for steered connections inside
	// ns.
	Listen(ctx context.Context, ns netns.Namespace) (*net.TCPListener, error)
	// Install starts steering to ln in ns; it comes before the first
	// AddPort.
	Install(ctx context.Context, ns netns.Namespace, ln *net.TCPListener) error
	// AddPort steers new TCP connections to port.
	AddPort(ctx context.Context, port uint16) error
	// RemovePort stops steering port.
	RemovePort(ctx context.Context, port uint16) error
	// Uninstall removes all that Install and AddPort installed; missing
	// pieces are not an error.
	Uninstall(ctx context.Context) error
	// Close uninstalls and frees what the steering holds.
	Close() error
	// OriginalDst is the address the peer of a steered connection
	// connected to.
	OriginalDst(c *net.TCPConn) (netip.AddrPort, error)
	// DialApp connects to the target's app at orig from inside ns, past
	// the steering.
	DialApp(ctx context.Context, ns netns.Namespace, orig netip.AddrPort) (*net.TCPConn, error)
	// DialExempt dials dst over TCP from inside ns like d would, past the
	// steering when dst is an address of the namespace (a client's
	// outgoing connection reaches the target's app even on a port it
	// steals).
	DialExempt(ctx context.Context, ns netns.Namespace, d *net.Dialer, dst netip.AddrPort) (*net.TCPConn, error)
}

// IPTablesSteering steers with ipt's nat REDIRECT rules. The agent's
// connections are exempt by their group (see NewIPTables).
func IPTablesSteering(ipt *IPTables) Steering { return &iptSteering{ipt: ipt} }

type iptSteering struct {
	ipt *IPTables
	to  uint16 // the listener's port
}

func (s *iptSteering) Name() string { return "iptables" }

func (s *iptSteering) Listen(ctx context.Context, ns netns.Namespace) (*net.TCPListener, error) {
	ln, err := ns.Listen(ctx, "tcp4", "0.0.0.0:0")
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

func (s *iptSteering) Install(ctx context.Context, _ netns.Namespace, ln *net.TCPListener) error {
	s.to = uint16(ln.Addr().(*net.TCPAddr).Port)
	return s.ipt.Create(ctx)
}

func (s *iptSteering) AddPort(ctx context.Context, port uint16) error {
	return s.ipt.AddRedirect(ctx, port, s.to)
}

func (s *iptSteering) RemovePort(ctx context.Context, port uint16) error {
	return s.ipt.RemoveRedirect(ctx, port, s.to)
}

func (s *iptSteering) Uninstall(ctx context.Context) error { return s.ipt.Remove(ctx) }

func (s *iptSteering) Close() error { return nil }

func (s *iptSteering) OriginalDst(c *net.TCPConn) (netip.AddrPort, error) { return OriginalDst(c) }

func (s *iptSteering) DialApp(ctx context.Context, ns netns.Namespace, orig netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: netns.ConnectTimeout}
	c, err := ns.DialContext(ctx, &d, "tcp4", orig.String())
	if err != nil {
		return nil, fmt.Errorf("pass through to %s: %w", orig, err)
	}
	return c.(*net.TCPConn), nil
}

// DialExempt implements Steering: the agent's group is exempt from the
// rules, so a plain dial passes them.
func (s *iptSteering) DialExempt(ctx context.Context, ns netns.Namespace, d *net.Dialer, dst netip.AddrPort) (*net.TCPConn, error) {
	c, err := ns.DialContext(ctx, d, "tcp", dst.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}
