// Package netfilter parses and matches mirrord's address filters, the
// entries of feature.network.outgoing.filter and feature.network.dns.filter:
//
//	[protocol://][host | ip | ip/prefix | [ipv6] | [ipv6]/prefix][:port]
//
// e.g. "tcp://1.1.1.0/24:1337", "google.com", ":53", "udp://:53",
// "[::1]:80". An empty host matches any address, port 0 (or none) any port,
// no protocol both tcp and udp.
package netfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol of a filter entry.
type Protocol uint8

// Protocols.
const (
	Any Protocol = iota
	TCP
	UDP
)

// Entry is one parsed filter entry.
type Entry struct {
	Proto  Protocol
	Host   string       // a host name (lower case), or ""
	Prefix netip.Prefix // an address or subnet, when valid
	Port   uint16       // 0: any
	Source string       // the entry as written
}

// Parse parses one entry.
func Parse(s string) (Entry, error) {
	e := Entry{Source: s}
	rest := strings.TrimSpace(s)
	if rest == "" {
		return e, fmt.Errorf("filter %q: empty entry", s)
	}
	if proto, after, ok := strings.Cut(rest, "://"); ok {
		switch strings.ToLower(proto) {
		case "tcp":
			e.Proto = TCP
		case "udp":
			e.Proto = UDP
		default:
			return e, fmt.Errorf("filter %q: protocol %q: want tcp or udp", s, proto)
		}
		rest = after
	}
	host := rest
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return e, fmt.Errorf("filter %q: missing ']' after IPv6 address", s)
		}
		host = rest[1:end]
		rest = rest[end+1:]
		if strings.HasPrefix(rest, "/") { // [v6]/prefix[:port]
			bits, after, _ := strings.Cut(rest[1:], ":")
			host += "/" + bits
			if after != "" {
				rest = ":" + after
			} else {
				rest = ""
			}
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return e, fmt.Errorf("filter %q: unexpected %q after IPv6 address", s, rest)
		}
		if rest != "" {
			p, err := parsePort(rest[1:], s)
			if err != nil {
				return e, err
			}
			e.Port = p
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		if strings.Count(rest, ":") > 1 {
			return e, fmt.Errorf("filter %q: write IPv6 addresses in brackets, e.g. [::1]:80", s)
		}
		host = rest[:i]
		p, err := parsePort(rest[i+1:], s)
		if err != nil {
			return e, err
		}
		e.Port = p
	}
	if host == "" {
		return e, nil
	}
	if pfx, err := netip.ParsePrefix(host); err == nil {
		e.Prefix = pfx.Masked()
		return e, nil
	}
	if strings.Contains(host, "/") {
		return e, fmt.Errorf("filter %q: %q is not a subnet", s, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		e.Prefix = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		return e, nil
	}
	if !validHost(host) {
		return e, fmt.Errorf("filter %q: %q is not a host name, address or subnet", s, host)
	}
	e.Host = strings.ToLower(strings.TrimSuffix(host, "."))
	return e, nil
}

func parsePort(p, src string) (uint16, error) {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("filter %q: port %q: want 0-65535", src, p)
	}
	return uint16(n), nil
}

func validHost(h string) bool {
	for _, c := range h {
		if !(c == '-' || c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return h != ""
}

// ParseAll parses a list of entries.
func ParseAll(list []string) ([]Entry, error) {
	out := make([]Entry, 0, len(list))
	for _, s := range list {
		e, err := Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Target is what a filter is matched against.
type Target struct {
	Proto Protocol
	Addr  netip.AddrPort
	// Names are host names known to resolve to Addr (from DNS answers the
	// session gave, or resolving the filter's own names).
	Names []string
}

// Matches reports whether e selects t.
func (e *Entry) Matches(t Target) bool {
	if e.Proto != Any && t.Proto != Any && e.Proto != t.Proto {
		return false
	}
	if e.Port != 0 && e.Port != t.Addr.Port() {
		return false
	}
	switch {
	case e.Prefix.IsValid():
		return e.Prefix.Contains(t.Addr.Addr().Unmap())
	case e.Host != "":
		for _, n := range t.Names {
			if strings.EqualFold(strings.TrimSuffix(n, "."), e.Host) {
				return true
			}
		}
		return false
	}
	return true
}

// MatchesName reports whether e selects a DNS query for name: host entries
// compare names, address entries never match, and entries with only a
// port/protocol match every query.
func (e *Entry) MatchesName(name string) bool {
	switch {
	case e.Prefix.IsValid():
		return false
	case e.Host != "":
		return strings.EqualFold(strings.TrimSuffix(name, "."), e.Host)
	}
	return e.Proto != TCP && (e.Port == 0 || e.Port == 53)
}
