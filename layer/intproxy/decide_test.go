package intproxy

import (
	"net/netip"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// decider builds a Proxy for the pure decision functions (no agent needed
// as long as no filter entry must be resolved).
func decider(t *testing.T, s settings.Settings) *Proxy {
	t.Helper()
	p := &Proxy{s: s, names: map[netip.Addr][]string{}, listening: map[uint16]int{}, subs: map[uint16]*subscription{}}
	var err error
	if p.outFilter, p.outFilterRemote, err = parseFilter(s.Outgoing.Filter, "outgoing"); err != nil {
		t.Fatal(err)
	}
	if p.dnsFilter, p.dnsFilterRemote, err = parseFilter(s.DNS.Filter, "dns"); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSubscribable(t *testing.T) {
	listen := func(req uint16, actual string) wire.Listen {
		return wire.Listen{RequestedPort: req, Actual: netip.MustParseAddrPort(actual)}
	}
	tests := []struct {
		name string
		mod  func(*settings.Settings)
		l    wire.Listen
		want bool
	}{
		{"default mirror", nil, listen(8080, "0.0.0.0:8080"), true},
		{"mode off", func(s *settings.Settings) { s.Incoming.Mode = settings.IncomingOff }, listen(8080, "0.0.0.0:8080"), false},
		{"targetless", func(s *settings.Settings) { s.Targetless = true }, listen(8080, "0.0.0.0:8080"), false},
		{"ignore_localhost", func(s *settings.Settings) { s.Incoming.IgnoreLocalhost = true }, listen(8080, "127.0.0.1:8080"), false},
		{"ignore_localhost wildcard", func(s *settings.Settings) { s.Incoming.IgnoreLocalhost = true }, listen(8080, "0.0.0.0:8080"), true},
		{"ignore_ports", func(s *settings.Settings) { s.Incoming.IgnorePorts = []uint16{8080} }, listen(8080, "0.0.0.0:8080"), false},
		{"ports allowlist miss", func(s *settings.Settings) { s.Incoming.Ports = []uint16{80} }, listen(8080, "0.0.0.0:8080"), false},
		{"ports allowlist hit", func(s *settings.Settings) { s.Incoming.Ports = []uint16{8080} }, listen(8080, "0.0.0.0:9999"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings.Default()
			if tt.mod != nil {
				tt.mod(&s)
			}
			if got := decider(t, s).subscribable(tt.l); got != tt.want {
				t.Fatalf("subscribable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPortMappings(t *testing.T) {
	s := settings.Default()
	s.Incoming.PortMapping = [][2]uint16{{8080, 80}}
	s.Incoming.ListenPorts = [][2]uint16{{80, 9080}}
	p := decider(t, s)
	if got := p.remotePort(8080); got != 80 {
		t.Fatalf("remotePort(8080) = %d", got)
	}
	if got := p.remotePort(9000); got != 9000 {
		t.Fatalf("remotePort(9000) = %d", got)
	}
	_, body, _ := wire.ParseResponse(p.bind(wire.Bind{Addr: netip.MustParseAddrPort("0.0.0.0:80")}).Frame()[4:])
	if port, fallback := uint16(body[0])|uint16(body[1])<<8, body[2]; port != 9080 || fallback != 0 {
		t.Fatalf("bind 80: port %d fallback %d, want 9080 without fallback", port, fallback)
	}
	_, body, _ = wire.ParseResponse(p.bind(wire.Bind{Addr: netip.MustParseAddrPort("0.0.0.0:81")}).Frame()[4:])
	if port, fallback := uint16(body[0])|uint16(body[1])<<8, body[2]; port != 81 || fallback != 1 {
		t.Fatalf("bind 81: port %d fallback %d", port, fallback)
	}
}

func TestOutgoingDecisions(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		mod    func(*settings.Settings)
		names  map[netip.Addr][]string
		listen uint16
		proto  uint8
		addr   string
		remote bool
	}{
		{"default remote", nil, nil, 0, wire.ProtoTCP, "10.0.0.1:80", true},
		{"loopback is the pod's", nil, nil, 0, wire.ProtoTCP, "127.0.0.1:5432", true},
		{"ignore_localhost", func(s *settings.Settings) { s.Outgoing.IgnoreLocalhost = true }, nil, 0, wire.ProtoTCP, "127.0.0.1:5432", false},
		{"session listener stays local", nil, nil, 5432, wire.ProtoTCP, "127.0.0.1:5432", false},
		{"local filter port", func(s *settings.Settings) { s.Outgoing.Filter.Local = []string{":5432"} }, nil, 0, wire.ProtoTCP, "10.0.0.1:5432", false},
		{"local filter other port", func(s *settings.Settings) { s.Outgoing.Filter.Local = []string{":5432"} }, nil, 0, wire.ProtoTCP, "10.0.0.1:80", true},
		{"remote filter subnet", func(s *settings.Settings) { s.Outgoing.Filter.Remote = []string{"10.0.0.0/8"} }, nil, 0, wire.ProtoTCP, "10.9.9.9:80", true},
		{"remote filter miss", func(s *settings.Settings) { s.Outgoing.Filter.Remote = []string{"10.0.0.0/8"} }, nil, 0, wire.ProtoTCP, "192.168.1.1:80", false},
		{"remote filter protocol", func(s *settings.Settings) { s.Outgoing.Filter.Remote = []string{"udp://10.0.0.0/8"} }, nil, 0, wire.ProtoTCP, "10.9.9.9:80", false},
		{"local filter by resolved name", func(s *settings.Settings) { s.Outgoing.Filter.Local = []string{"db.internal"} },
			map[netip.Addr][]string{netip.MustParseAddr("10.1.1.1"): {"db.internal"}}, 0, wire.ProtoTCP, "10.1.1.1:5432", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings.Default()
			if tt.mod != nil {
				tt.mod(&s)
			}
			p := decider(t, s)
			for k, v := range tt.names {
				p.names[k] = v
			}
			if tt.listen != 0 {
				p.listening[tt.listen] = 1
			}
			if got := p.outgoingRemote(tt.proto, ap(tt.addr)); got != tt.remote {
				t.Fatalf("outgoingRemote = %v, want %v", got, tt.remote)
			}
		})
	}
}

func TestDNSFilter(t *testing.T) {
	s := settings.Default()
	s.DNS.Filter.Remote = []string{"orders.internal"}
	p := decider(t, s)
	if !p.dnsRemote("orders.internal") || p.dnsRemote("example.com") {
		t.Fatal("remote dns filter wrong")
	}
}

func TestParseNameserver(t *testing.T) {
	ns, err := parseNameserver("# c\nsearch x\nnameserver fe80::zz\nnameserver 10.96.0.10\nnameserver 1.1.1.1\n")
	if err != nil || ns != netip.MustParseAddr("10.96.0.10") {
		t.Fatalf("got %v, %v", ns, err)
	}
	if _, err := parseNameserver("search x\n"); err == nil {
		t.Fatal("no nameserver accepted")
	}
}
