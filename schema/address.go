package schema

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Address is one parsed outgoing/DNS filter entry:
// [proto://][name|ip|ip/prefix|[ipv6]][:port].
type Address struct {
	Protocol string // "any", "tcp" or "udp" (lower case); "" when not given
	Host     string // host name, IP address or subnet base; "" means any address
	Prefix   int    // subnet prefix length, -1 when not a subnet
	IsName   bool   // Host is a host name (not an IP address)
	Port     uint16 // 0 means any port
}

// ParseAddress parses a filter entry. withProtocol selects the outgoing
// grammar (a protocol prefix is allowed) over the DNS grammar.
func ParseAddress(s string, withProtocol bool) (Address, error) {
	a := Address{Prefix: -1}
	rest := s
	if proto, after, ok := strings.Cut(s, "://"); ok {
		if !withProtocol {
			return a, fmt.Errorf("`%s`: a DNS filter entry has no protocol; expected `[name|ip|ip/prefix|[ipv6]][:port]`", s)
		}
		switch strings.ToLower(proto) {
		case "any", "tcp", "udp":
			a.Protocol = strings.ToLower(proto)
		default:
			return a, fmt.Errorf("`%s`: unknown protocol `%s`, expected tcp, udp or any", s, proto)
		}
		rest = after
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return a, fmt.Errorf("`%s`: missing `]` after an IPv6 address", s)
		}
		ip, err := netip.ParseAddr(rest[1:end])
		if err != nil || !ip.Is6() {
			return a, fmt.Errorf("`%s`: `%s` is not an IPv6 address", s, rest[1:end])
		}
		a.Host = ip.String()
		after := rest[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return a, fmt.Errorf("`%s`: unexpected `%s` after the IPv6 address", s, after)
			}
			port = after[1:]
			if err := a.parsePort(s, port); err != nil {
				return a, err
			}
		}
		return a, nil
	}
	switch strings.Count(rest, ":") {
	case 0:
	case 1:
		i := strings.IndexByte(rest, ':')
		host, port = rest[:i], rest[i+1:]
		if err := a.parsePort(s, port); err != nil {
			return a, err
		}
	default:
		return a, fmt.Errorf("`%s`: IPv6 addresses must be written in brackets, e.g. `[::1]:80`", s)
	}
	if base, prefix, ok := strings.Cut(host, "/"); ok {
		ip, err := netip.ParseAddr(base)
		if err != nil {
			return a, fmt.Errorf("`%s`: the base of the subnet `%s` must be an IP address", s, host)
		}
		n, err := strconv.Atoi(prefix)
		if err != nil || n < 0 || n > ip.BitLen() {
			return a, fmt.Errorf("`%s`: invalid subnet prefix length `%s`, expected 0 to %d", s, prefix, ip.BitLen())
		}
		a.Host, a.Prefix = ip.String(), n
		return a, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		a.Host = ip.String()
		return a, nil
	}
	for _, r := range host {
		if !(r < 128 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')) {
			return a, fmt.Errorf("`%s`: invalid character %q in host name `%s` (allowed: letters, digits, `-`, `_`, `.`)", s, r, host)
		}
	}
	a.Host, a.IsName = host, host != ""
	return a, nil
}

func (a *Address) parsePort(s, port string) error {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("`%s`: invalid port `%s`, expected a number from 0 to 65535 (0 means any port)", s, port)
	}
	a.Port = uint16(p)
	return nil
}

// reflectOutgoingInDNS copies host names of outgoing.filter into
// dns.filter on the same side (mirrord's reflect_outgoing_filter_in_dns):
// only when DNS is enabled; a remote outgoing filter with no DNS filter is
// left alone.
func reflectOutgoingInDNS(n *NetworkConfig) {
	if !n.DNS.Enabled || n.Outgoing.Filter == nil {
		return
	}
	of := n.Outgoing.Filter
	remote := of.Remote != nil
	entries := of.Local
	if remote {
		entries = of.Remote
		if n.DNS.Filter == nil {
			return
		}
	}
	var names []string
	for _, e := range entries {
		a, err := ParseAddress(e, true)
		if err != nil || !a.IsName {
			continue
		}
		name := a.Host
		if a.Port != 0 {
			name += ":" + strconv.Itoa(int(a.Port))
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return
	}
	if n.DNS.Filter == nil {
		n.DNS.Filter = &AddressFilterConfig{}
	}
	if remote {
		if n.DNS.Filter.Remote != nil || n.DNS.Filter.Local == nil {
			n.DNS.Filter.Remote = appendNew(n.DNS.Filter.Remote, names)
		}
	} else if n.DNS.Filter.Local != nil || n.DNS.Filter.Remote == nil {
		n.DNS.Filter.Local = appendNew(n.DNS.Filter.Local, names)
	}
}

func appendNew(list, add []string) []string {
	out := append([]string(nil), list...)
	for _, a := range add {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
