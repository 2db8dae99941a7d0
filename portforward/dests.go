package portforward

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// destTTL is how long a name an -L route resolved in the target is reused.
// A connect that fails on a reused address resolves the name again, so a
// Service or pod that moved costs one failed connect, not a broken route.
const destTTL = 30 * time.Second

// dests remembers what each -L host resolved to through the current agent:
// a new local connection then costs one round trip to the agent (the
// connect, carrying the first bytes), not two. Entries belong to one agent
// connection; a new agent starts empty.
type dests struct {
	mu     sync.Mutex
	client *protocol.Client
	addrs  map[string]dest
}

type dest struct {
	addr netip.Addr
	at   time.Time
}

// lookup returns the cached address of host through client, if fresh.
func (d *dests) lookup(client *protocol.Client, host string, now time.Time) (netip.Addr, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != client {
		return netip.Addr{}, false
	}
	e, ok := d.addrs[host]
	if !ok || now.Sub(e.at) > destTTL {
		return netip.Addr{}, false
	}
	return e.addr, true
}

func (d *dests) store(client *protocol.Client, host string, addr netip.Addr, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != client || d.addrs == nil {
		d.client, d.addrs = client, map[string]dest{}
	}
	d.addrs[host] = dest{addr: addr, at: now}
}

func (d *dests) forget(client *protocol.Client, host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == client {
		delete(d.addrs, host)
	}
}

// resolveDest turns the route's host into "ip:port", asking the agent to
// resolve names (the first IPv4 address is preferred) unless the answer
// is cached; cached reports that it was.
func (f *Forwarder) resolveDest(ctx context.Context, client *protocol.Client, route LocalRoute) (addr string, cached bool, err error) {
	port := strconv.Itoa(int(route.RemotePort))
	if ip, err := netip.ParseAddr(route.Host); err == nil {
		return net.JoinHostPort(ip.String(), port), false, nil
	}
	if ip, ok := f.dests.lookup(client, route.Host, time.Now()); ok {
		return net.JoinHostPort(ip.String(), port), true, nil
	}
	addrs, err := client.LookupHost(ctx, route.Host, protocol.FamilyAny)
	if err != nil {
		return "", false, fmt.Errorf("resolve %s in the target: %w", route.Host, err)
	}
	if len(addrs) == 0 {
		return "", false, fmt.Errorf("resolve %s in the target: no addresses", route.Host)
	}
	pick := addrs[0]
	for _, a := range addrs {
		if a.Is4() {
			pick = a
			break
		}
	}
	f.dests.store(client, route.Host, pick, time.Now())
	return net.JoinHostPort(pick.String(), port), false, nil
}

// warmDests resolves the -L hosts through a newly connected agent, so the
// first connection of each route does not wait for it. Failures are left
// for that connection to report.
func (f *Forwarder) warmDests(ctx context.Context, client *protocol.Client) {
	for _, r := range f.cfg.Routes.Local {
		if ctx.Err() != nil {
			return
		}
		_, _, _ = f.resolveDest(ctx, client, r)
	}
}
