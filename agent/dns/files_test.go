package dns

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestParseHosts(t *testing.T) {
	h := ParseHosts([]byte("# comment\n127.0.0.1 localhost\n10.0.0.1 Foo.Test. foo # trailing\n::1 localhost ip6-localhost\nbad line\n10.0.0.2\n"))
	want := Hosts{
		"localhost":     {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"foo.test":      {netip.MustParseAddr("10.0.0.1")},
		"foo":           {netip.MustParseAddr("10.0.0.1")},
		"ip6-localhost": {netip.MustParseAddr("::1")},
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %v, want %v", h, want)
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Config
	}{
		{"empty", "", Config{Nameservers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}, Ndots: 1, Timeout: 5 * time.Second, Attempts: 2}},
		{"kube", "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:3\n",
			Config{Nameservers: []netip.AddrPort{netip.MustParseAddrPort("10.96.0.10:53")}, Search: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Ndots: 5, Timeout: time.Second, Attempts: 3}},
		{"bad values ignored", "nameserver nope\nnameserver ::1\noptions ndots:x timeout:-1\n",
			Config{Nameservers: []netip.AddrPort{netip.MustParseAddrPort("[::1]:53")}, Ndots: 1, Timeout: 5 * time.Second, Attempts: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseResolvConf([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	cfg := Config{Search: []string{"ns.svc", "svc"}, Ndots: 2}
	tests := map[string][]string{
		"db":        {"db.ns.svc.", "db.svc.", "db."},
		"a.b.c":     {"a.b.c.", "a.b.c.ns.svc.", "a.b.c.svc."},
		"absolute.": {"absolute."},
		"one.dot":   {"one.dot.ns.svc.", "one.dot.svc.", "one.dot."},
	}
	for in, want := range tests {
		if got := candidates(in, cfg); !reflect.DeepEqual(got, want) {
			t.Errorf("candidates(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add([]byte("127.0.0.1 localhost\n::1 localhost # x\nfe80::1%eth0 link\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, addrs := range ParseHosts(b) {
			if name == "" || len(addrs) == 0 {
				t.Fatalf("empty entry %q -> %v", name, addrs)
			}
		}
	})
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 10.96.0.10\nsearch a b\noptions ndots:5 timeout:2 attempts:9\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := ParseResolvConf(b)
		if len(c.Nameservers) == 0 || len(c.Nameservers) > 3 || c.Timeout <= 0 || c.Attempts <= 0 || c.Ndots > 15 {
			t.Fatalf("bad config %+v", c)
		}
	})
}
