// Package dns resolves names the way getaddrinfo does inside a target:
// its /etc/hosts first, then the nameservers of its /etc/resolv.conf,
// queried over UDP (TCP when truncated) through a dial function that places
// the sockets in the target's network namespace.
package dns

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Hosts maps lower-case names to addresses, in file order.
type Hosts map[string][]netip.Addr

// ParseHosts parses an /etc/hosts file. Malformed lines are skipped, like
// glibc does.
func ParseHosts(data []byte) Hosts {
	h := Hosts{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		addr = addr.WithZone("")
		for _, name := range f[1:] {
			name = strings.ToLower(strings.TrimSuffix(name, "."))
			if name == "" {
				continue
			}
			h[name] = appendUnique(h[name], addr)
		}
	}
	return h
}

func appendUnique(list []netip.Addr, a netip.Addr) []netip.Addr {
	for _, x := range list {
		if x == a {
			return list
		}
	}
	return append(list, a)
}

// Config is the part of resolv.conf the resolver uses.
type Config struct {
	Nameservers []netip.AddrPort
	Search      []string
	Ndots       int
	Timeout     time.Duration
	Attempts    int
}

// ParseResolvConf parses resolv.conf. Without nameservers, the resolver
// uses 127.0.0.1:53 like glibc.
func ParseResolvConf(data []byte) Config {
	c := Config{Ndots: 1, Timeout: 5 * time.Second, Attempts: 2}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 || len(c.Nameservers) >= 3 {
				continue
			}
			if a, err := netip.ParseAddr(f[1]); err == nil {
				c.Nameservers = append(c.Nameservers, netip.AddrPortFrom(a, 53))
			}
		case "search", "domain":
			c.Search = nil
			for _, d := range f[1:] {
				if d = strings.Trim(d, "."); d != "" {
					c.Search = append(c.Search, strings.ToLower(d))
				}
			}
		case "options":
			for _, o := range f[1:] {
				k, v, _ := strings.Cut(o, ":")
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					continue
				}
				switch k {
				case "ndots":
					c.Ndots = min(n, 15)
				case "timeout":
					c.Timeout = time.Duration(min(max(n, 1), 30)) * time.Second
				case "attempts":
					c.Attempts = min(max(n, 1), 5)
				}
			}
		}
	}
	if len(c.Nameservers) == 0 {
		c.Nameservers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}
	}
	return c
}
