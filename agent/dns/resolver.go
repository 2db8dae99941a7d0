package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// DialFunc opens a socket (network "udp" or "tcp") to a nameserver.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Resolver resolves names for one target. It reads the target's files on
// every lookup (they may change; there is no cache).
type Resolver struct {
	// Root is the target's filesystem root; etc/hosts and etc/resolv.conf
	// are read below it.
	Root string
	// Dial places sockets in the target's network namespace.
	Dial DialFunc
}

// Lookup resolves host for family. Failures are *protocol.Error with Code
// CodeDNS and a getaddrinfo EAI code.
func (r *Resolver) Lookup(ctx context.Context, host string, family protocol.Family) ([]netip.Addr, error) {
	if family == "" {
		family = protocol.FamilyAny
	}
	if family != protocol.FamilyAny && family != protocol.FamilyIPv4 && family != protocol.FamilyIPv6 {
		return nil, dnsError(protocol.EAIFamily, "unknown address family %q", family)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !familyWants(family, a) {
			return nil, dnsError(protocol.EAIAddrFamily, "%s is not of family %s", host, family)
		}
		return []netip.Addr{a.WithZone("")}, nil
	}
	name := strings.ToLower(host)
	if err := checkName(name); err != nil {
		return nil, err
	}
	if hosts, err := os.ReadFile(filepath.Join(r.Root, "etc/hosts")); err == nil {
		if addrs := filterFamily(ParseHosts(hosts)[strings.TrimSuffix(name, ".")], family); len(addrs) > 0 {
			return addrs, nil
		}
	}
	conf, _ := os.ReadFile(filepath.Join(r.Root, "etc/resolv.conf"))
	cfg := ParseResolvConf(conf)
	if v, err := envInt("DNS_TIMEOUT"); err == nil {
		cfg.Timeout = time.Duration(v) * time.Second
	}
	if v, err := envInt("DNS_ATTEMPTS"); err == nil {
		cfg.Attempts = v
	}
	var last error = dnsError(protocol.EAINoName, "%s: not found", host)
	for _, fqdn := range candidates(name, cfg) {
		addrs, err := r.query(ctx, cfg, fqdn, family)
		if err == nil && len(addrs) > 0 {
			return addrs, nil
		}
		if err == nil {
			last = dnsError(protocol.EAINoData, "%s: no %s address", host, family)
			continue
		}
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.EAI == protocol.EAINoName {
			continue
		}
		last = err
		if pe == nil || pe.EAI == protocol.EAIAgain {
			break // servers unreachable: the next name fails the same way
		}
	}
	return nil, last
}

func envInt(name string) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, errors.New("unset")
	}
	var n int
	_, err := fmt.Sscanf(v, "%d", &n)
	if err != nil || n <= 0 {
		return 0, errors.New("bad")
	}
	return n, nil
}

func dnsError(eai int, format string, args ...any) *protocol.Error {
	e := protocol.Errorf(protocol.CodeDNS, format, args...)
	e.EAI = eai
	return e
}

func checkName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > 253 {
		return dnsError(protocol.EAINoName, "invalid host name %q", name)
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 {
			return dnsError(protocol.EAINoName, "invalid host name %q", name)
		}
	}
	return nil
}

// candidates lists the names to query, applying search domains and ndots.
func candidates(name string, cfg Config) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	abs := name + "."
	var searched []string
	for _, d := range cfg.Search {
		searched = append(searched, name+"."+d+".")
	}
	if strings.Count(name, ".") >= cfg.Ndots {
		return append([]string{abs}, searched...)
	}
	return append(searched, abs)
}

func familyWants(f protocol.Family, a netip.Addr) bool {
	switch f {
	case protocol.FamilyIPv4:
		return a.Is4() || a.Is4In6()
	case protocol.FamilyIPv6:
		return a.Is6() && !a.Is4In6()
	}
	return true
}

func filterFamily(addrs []netip.Addr, f protocol.Family) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if familyWants(f, a) {
			out = append(out, a)
		}
	}
	return out
}

// query asks the nameservers for fqdn's A and/or AAAA records. A nil error
// with no addresses means the name exists without such records.
func (r *Resolver) query(ctx context.Context, cfg Config, fqdn string, family protocol.Family) ([]netip.Addr, error) {
	var types []dnsmessage.Type
	if family != protocol.FamilyIPv6 {
		types = append(types, dnsmessage.TypeA)
	}
	if family != protocol.FamilyIPv4 {
		types = append(types, dnsmessage.TypeAAAA)
	}
	var out []netip.Addr
	exists := false
	var firstErr error
	for _, t := range types {
		addrs, err := r.queryType(ctx, cfg, fqdn, t)
		if err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) && pe.EAI == protocol.EAINoName {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			return nil, err
		}
		exists = true
		out = append(out, addrs...)
	}
	if !exists && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (r *Resolver) queryType(ctx context.Context, cfg Config, fqdn string, t dnsmessage.Type) ([]netip.Addr, error) {
	qname, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, dnsError(protocol.EAINoName, "invalid host name %q", fqdn)
	}
	var lastErr error = dnsError(protocol.EAIAgain, "%s: no nameserver answered", fqdn)
	for attempt := 0; attempt < max(cfg.Attempts, 1); attempt++ {
		for _, ns := range cfg.Nameservers {
			id := uint16(rand.Uint32())
			msg := dnsmessage.Message{
				Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
				Questions: []dnsmessage.Question{{Name: qname, Type: t, Class: dnsmessage.ClassINET}},
			}
			packed, err := msg.Pack()
			if err != nil {
				return nil, dnsError(protocol.EAIFail, "build query for %s: %v", fqdn, err)
			}
			qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			resp, err := r.exchange(qctx, ns.String(), packed, id)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil, dnsError(protocol.EAIAgain, "%s: %v", fqdn, ctx.Err())
				}
				lastErr = dnsError(protocol.EAIAgain, "%s: nameserver %s: %v", fqdn, ns, err)
				continue
			}
			return answer(resp, fqdn, t)
		}
	}
	return nil, lastErr
}

// answer turns a response into addresses or a getaddrinfo error.
func answer(resp *dnsmessage.Message, fqdn string, t dnsmessage.Type) ([]netip.Addr, error) {
	switch resp.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, dnsError(protocol.EAINoName, "%s: no such host", strings.TrimSuffix(fqdn, "."))
	case dnsmessage.RCodeServerFailure:
		return nil, dnsError(protocol.EAIAgain, "%s: server failure", fqdn)
	default:
		return nil, dnsError(protocol.EAIFail, "%s: nameserver answered %v", fqdn, resp.RCode)
	}
	var out []netip.Addr
	for _, a := range resp.Answers {
		switch b := a.Body.(type) {
		case *dnsmessage.AResource:
			if t == dnsmessage.TypeA {
				out = append(out, netip.AddrFrom4(b.A))
			}
		case *dnsmessage.AAAAResource:
			if t == dnsmessage.TypeAAAA {
				out = append(out, netip.AddrFrom16(b.AAAA))
			}
		}
	}
	return out, nil
}

// exchange sends one query over UDP, retrying over TCP when truncated.
func (r *Resolver) exchange(ctx context.Context, server string, query []byte, id uint16) (*dnsmessage.Message, error) {
	resp, err := r.exchangeUDP(ctx, server, query, id)
	if err == nil && !resp.Truncated {
		return resp, nil
	}
	if err != nil && !errors.Is(err, errTruncated) {
		return nil, err
	}
	return r.exchangeTCP(ctx, server, query, id)
}

var errTruncated = errors.New("truncated")

func (r *Resolver) exchangeUDP(ctx context.Context, server string, query []byte, id uint16) (*dnsmessage.Message, error) {
	conn, err := r.Dial(ctx, "udp", server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		var m dnsmessage.Message
		if err := m.Unpack(buf[:n]); err != nil || m.ID != id || !m.Response {
			continue // stray or malformed packet: keep waiting
		}
		if m.Truncated {
			return &m, errTruncated
		}
		return &m, nil
	}
}

func (r *Resolver) exchangeTCP(ctx context.Context, server string, query []byte, id uint16) (*dnsmessage.Message, error) {
	conn, err := r.Dial(ctx, "tcp", server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
	if _, err := conn.Write(append(framed, query...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf); err != nil {
		return nil, fmt.Errorf("bad response from %s: %w", server, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("response from %s has the wrong id", server)
	}
	return &m, nil
}
