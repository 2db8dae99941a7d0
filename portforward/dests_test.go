package portforward

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

func TestDestsCache(t *testing.T) {
	var d dests
	a, b := &protocol.Client{}, &protocol.Client{}
	ip := netip.MustParseAddr("10.96.0.10")
	now := time.Now()
	if _, ok := d.lookup(a, "orders", now); ok {
		t.Fatal("empty cache answered")
	}
	d.store(a, "orders", ip, now)
	for _, tc := range []struct {
		name   string
		client *protocol.Client
		host   string
		at     time.Time
		want   bool
	}{
		{"fresh", a, "orders", now.Add(destTTL - time.Second), true},
		{"expired", a, "orders", now.Add(destTTL + time.Second), false},
		{"other host", a, "api", now, false},
		{"other agent", b, "orders", now, false},
	} {
		if got, ok := d.lookup(tc.client, tc.host, tc.at); ok != tc.want || (ok && got != ip) {
			t.Errorf("%s: lookup = %v, %v; want found=%v", tc.name, got, ok, tc.want)
		}
	}
	d.forget(a, "orders")
	if _, ok := d.lookup(a, "orders", now); ok {
		t.Fatal("forgotten entry answered")
	}
	// A new agent starts from an empty cache: the old agent's names go.
	d.store(a, "api", ip, now)
	d.store(b, "orders", ip, now)
	if _, ok := d.lookup(a, "api", now); ok {
		t.Fatal("the previous agent's entry survived a new agent")
	}
	if _, ok := d.lookup(b, "orders", now); !ok {
		t.Fatal("the new agent's entry is missing")
	}
}
