package schema

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// HostPort is a parsed `HOST:PORT` address such as agent.address.
type HostPort struct {
	// Host is a DNS name, an IPv4 address or an IPv6 address (without
	// brackets).
	Host string
	Port uint16
}

// String renders the address so that net.Dial accepts it (IPv6 in brackets).
func (h HostPort) String() string {
	if strings.Contains(h.Host, ":") {
		return "[" + h.Host + "]:" + strconv.Itoa(int(h.Port))
	}
	return h.Host + ":" + strconv.Itoa(int(h.Port))
}

// ParseHostPort parses `HOST:PORT`: HOST is a DNS name, an IPv4 address or
// an IPv6 address in brackets; PORT is a decimal number from 1 to 65535.
func ParseHostPort(s string) (HostPort, error) {
	const grammar = "expected HOST:PORT such as `127.0.0.1:61337`, `agent.example.svc:61337` or `[::1]:61337`"
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return HostPort{}, fmt.Errorf("`%s`: missing `]` after the IPv6 address; %s", s, grammar)
		}
		ip, err := netip.ParseAddr(s[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return HostPort{}, fmt.Errorf("`%s`: `%s` is not an IPv6 address; %s", s, s[1:end], grammar)
		}
		rest := s[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return HostPort{}, fmt.Errorf("`%s`: missing `:PORT` after the IPv6 address; %s", s, grammar)
		}
		host, port = ip.String(), rest[1:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return HostPort{}, fmt.Errorf("`%s`: missing `:PORT`; %s", s, grammar)
		}
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return HostPort{}, fmt.Errorf("`%s`: an IPv6 address must be written in brackets; %s", s, grammar)
		}
		if host == "" {
			return HostPort{}, fmt.Errorf("`%s`: missing HOST before `:`; %s", s, grammar)
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			host = ip.String()
		} else if !validHostName(host) {
			return HostPort{}, fmt.Errorf("`%s`: `%s` is neither an IP address nor a host name; %s", s, host, grammar)
		}
	}
	p, err := parsePortNumber(port)
	if err != nil {
		return HostPort{}, fmt.Errorf("`%s`: %v", s, err)
	}
	return HostPort{Host: host, Port: p}, nil
}

// parsePortNumber accepts only plain decimal digits in 1..65535.
func parsePortNumber(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing port after `:`; the port is a number from 1 to 65535")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("port `%s` is not a number; the port is a number from 1 to 65535", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("port %s is out of range; the port is a number from 1 to 65535", s)
	}
	return uint16(v), nil
}

// validHostName reports whether s is a DNS name: dot-separated labels of
// letters, digits, `-` and `_`, each 1 to 63 bytes, not starting or ending
// with `-`; at most 253 bytes; a trailing dot is allowed.
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
