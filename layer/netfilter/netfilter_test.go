package netfilter

import (
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Entry
		wantErr string
	}{
		{in: "tcp://1.1.1.0/24:1337", want: Entry{Proto: TCP, Prefix: netip.MustParsePrefix("1.1.1.0/24"), Port: 1337}},
		{in: "google.com", want: Entry{Host: "google.com"}},
		{in: "Orders.Internal.", want: Entry{Host: "orders.internal"}},
		{in: ":53", want: Entry{Port: 53}},
		{in: "udp://:53", want: Entry{Proto: UDP, Port: 53}},
		{in: "[::1]:80", want: Entry{Prefix: netip.MustParsePrefix("::1/128"), Port: 80}},
		{in: "[fd00::]/8:443", want: Entry{Prefix: netip.MustParsePrefix("fd00::/8"), Port: 443}},
		{in: "10.0.0.7", want: Entry{Prefix: netip.MustParsePrefix("10.0.0.7/32")}},
		{in: "10.1.2.3/8", want: Entry{Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
		{in: "", wantErr: `filter "": empty entry`},
		{in: "sctp://a:1", wantErr: `filter "sctp://a:1": protocol "sctp": want tcp or udp`},
		{in: "a:99999", wantErr: `filter "a:99999": port "99999": want 0-65535`},
		{in: "::1", wantErr: `filter "::1": write IPv6 addresses in brackets, e.g. [::1]:80`},
		{in: "[::1", wantErr: `filter "[::1": missing ']' after IPv6 address`},
		{in: "a b", wantErr: `filter "a b": "a b" is not a host name, address or subnet`},
		{in: "1.2.3.4/99", wantErr: `filter "1.2.3.4/99": "1.2.3.4/99" is not a subnet`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Source = tt.in
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	target := func(proto Protocol, addr string, names ...string) Target {
		return Target{Proto: proto, Addr: netip.MustParseAddrPort(addr), Names: names}
	}
	tests := []struct {
		entry string
		t     Target
		want  bool
	}{
		{"tcp://1.1.1.0/24:1337", target(TCP, "1.1.1.9:1337"), true},
		{"tcp://1.1.1.0/24:1337", target(UDP, "1.1.1.9:1337"), false},
		{"tcp://1.1.1.0/24:1337", target(TCP, "1.1.2.9:1337"), false},
		{"tcp://1.1.1.0/24:1337", target(TCP, "1.1.1.9:80"), false},
		{":53", target(UDP, "8.8.8.8:53"), true},
		{"google.com", target(TCP, "1.2.3.4:443", "GOOGLE.com."), true},
		{"google.com", target(TCP, "1.2.3.4:443", "example.com"), false},
		{"10.0.0.1", target(TCP, "[::ffff:10.0.0.1]:80"), true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.entry)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Matches(tt.t); got != tt.want {
			t.Errorf("%q matches %+v = %v, want %v", tt.entry, tt.t, got, tt.want)
		}
	}
}

func TestMatchesName(t *testing.T) {
	tests := []struct {
		entry, name string
		want        bool
	}{
		{"orders.internal", "Orders.Internal.", true},
		{"orders.internal", "users.internal", false},
		{"10.0.0.0/8", "orders.internal", false},
		{":53", "anything", true},
		{"tcp://:53", "anything", false},
		{":80", "anything", false},
	}
	for _, tt := range tests {
		e, err := Parse(tt.entry)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.MatchesName(tt.name); got != tt.want {
			t.Errorf("%q MatchesName(%q) = %v, want %v", tt.entry, tt.name, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp://1.1.1.0/24:1337", "google.com", ":53", "[::1]:80", "[fd00::]/8:443", "udp://x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		if e.Source != s {
			t.Fatalf("Source %q, want %q", e.Source, s)
		}
		_ = e.Matches(Target{Addr: netip.MustParseAddrPort("1.2.3.4:5"), Names: []string{"x"}})
		_ = e.MatchesName("x")
	})
}
