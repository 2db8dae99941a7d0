package portforward

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// LocalRoute is one -L: listen on LocalPort, connect to Host:RemotePort
// from inside the target.
type LocalRoute struct {
	LocalPort uint16
	// Host is an IP literal or a name resolved in the cluster (a Service
	// name, a name only the target's DNS knows). IPv6 literals are stored
	// without brackets.
	Host       string
	RemotePort uint16
}

// Dest is "HOST:PORT" (IPv6 literals bracketed).
func (r LocalRoute) Dest() string {
	return net.JoinHostPort(r.Host, strconv.Itoa(int(r.RemotePort)))
}

func (r LocalRoute) String() string {
	return fmt.Sprintf("%d:%s", r.LocalPort, r.Dest())
}

// RemoteRoute is one -R: incoming traffic of the target's RemotePort is
// delivered to the local LocalPort.
type RemoteRoute struct {
	RemotePort uint16
	LocalPort  uint16
}

func (r RemoteRoute) String() string {
	return fmt.Sprintf("%d:%d", r.RemotePort, r.LocalPort)
}

// SpecError is a -L or -R value that does not follow the grammar.
type SpecError struct {
	// Flag is "-L" or "-R".
	Flag string
	// Value is the flag's value as written.
	Value string
	// Reason says what is wrong.
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Flag, e.Value, e.Reason)
}

const (
	localGrammar  = "want [LOCAL_PORT:]HOST:REMOTE_PORT, e.g. 8080:db:5432 or db:5432"
	remoteGrammar = "want [REMOTE_PORT:]LOCAL_PORT, e.g. 80:3000 or 3000"
)

// ParseLocal parses a -L value: [LOCAL_PORT:]HOST:REMOTE_PORT. A missing
// LOCAL_PORT is REMOTE_PORT. HOST may be a bracketed IPv6 literal.
func ParseLocal(s string) (LocalRoute, error) {
	fail := func(format string, a ...any) (LocalRoute, error) {
		return LocalRoute{}, &SpecError{Flag: "-L", Value: s, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return fail("empty; %s", localGrammar)
	}
	// The remote port is after the last colon; the host may itself hold
	// colons only inside brackets.
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return fail("no port; %s", localGrammar)
	}
	front, portText := s[:i], s[i+1:]
	remote, err := parsePort(portText)
	if err != nil {
		return fail("remote port %s; %s", err, localGrammar)
	}
	var localText, host string
	if strings.HasSuffix(front, "]") {
		open := strings.LastIndexByte(front, '[')
		if open < 0 {
			return fail("unbalanced ']' in the host")
		}
		host = front[open+1 : len(front)-1]
		if open > 0 {
			if front[open-1] != ':' {
				return fail("expected ':' before '[' of the host")
			}
			localText = front[:open-1]
			if localText == "" {
				return fail("empty local port before the host; %s", localGrammar)
			}
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil || strings.Contains(host, "%") {
			return fail("%q in brackets is not an IPv6 address", host)
		}
	} else {
		if strings.ContainsAny(front, "[]") {
			return fail("brackets are only for IPv6 addresses, written whole, e.g. [::1]:80")
		}
		host = front
		if j := strings.LastIndexByte(front, ':'); j >= 0 {
			localText, host = front[:j], front[j+1:]
			if localText == "" {
				return fail("empty local port before the host; %s", localGrammar)
			}
		}
		if host == "" {
			return fail("empty host; %s", localGrammar)
		}
		if err := checkHostName(host); err != nil {
			return fail("host %q: %s", host, err)
		}
	}
	local := remote
	if localText != "" {
		if local, err = parsePort(localText); err != nil {
			return fail("local port %s; %s", err, localGrammar)
		}
	}
	return LocalRoute{LocalPort: local, Host: host, RemotePort: remote}, nil
}

// checkHostName accepts IPv4 literals and DNS names (letters, digits, '-',
// '_', dots; at most 253 characters, labels of at most 63).
func checkHostName(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	labelStart := 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			n := i - labelStart
			switch {
			case n == 0 && !(i == len(h) && i > 0):
				return fmt.Errorf("empty label at offset %d", labelStart)
			case n > 63:
				return fmt.Errorf("label at offset %d is longer than 63 characters", labelStart)
			}
			labelStart = i + 1
			continue
		}
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("character %q at offset %d is not allowed in a host name", c, i)
		}
	}
	return nil
}

// ParseRemote parses a -R value: [REMOTE_PORT:]LOCAL_PORT. A missing
// REMOTE_PORT is LOCAL_PORT.
func ParseRemote(s string) (RemoteRoute, error) {
	fail := func(format string, a ...any) (RemoteRoute, error) {
		return RemoteRoute{}, &SpecError{Flag: "-R", Value: s, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return fail("empty; %s", remoteGrammar)
	}
	remoteText, localText, two := strings.Cut(s, ":")
	if !two {
		localText, remoteText = s, s
	}
	if strings.Contains(localText, ":") {
		return fail("too many ':'; %s", remoteGrammar)
	}
	local, err := parsePort(localText)
	if err != nil {
		return fail("local port %s; %s", err, remoteGrammar)
	}
	remote, err := parsePort(remoteText)
	if err != nil {
		return fail("remote port %s; %s", err, remoteGrammar)
	}
	return RemoteRoute{RemotePort: remote, LocalPort: local}, nil
}

// parsePort reads a decimal port in 1..65535.
func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("%q is out of range 1-65535", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("0 is not allowed (a fixed port is needed to forward)")
	}
	return uint16(n), nil
}

// Routes are all -L and -R of one command.
type Routes struct {
	Local  []LocalRoute
	Remote []RemoteRoute
}

// ParseRoutes parses every -L and -R value and rejects duplicates: two -L
// with the same local port, two -R with the same remote port.
func ParseRoutes(locals, remotes []string) (Routes, error) {
	var rs Routes
	seenLocal := map[uint16]string{}
	for _, s := range locals {
		r, err := ParseLocal(s)
		if err != nil {
			return Routes{}, err
		}
		if prev, dup := seenLocal[r.LocalPort]; dup {
			return Routes{}, &SpecError{Flag: "-L", Value: s,
				Reason: fmt.Sprintf("local port %d is already forwarded by -L %q", r.LocalPort, prev)}
		}
		seenLocal[r.LocalPort] = s
		rs.Local = append(rs.Local, r)
	}
	seenRemote := map[uint16]string{}
	for _, s := range remotes {
		r, err := ParseRemote(s)
		if err != nil {
			return Routes{}, err
		}
		if prev, dup := seenRemote[r.RemotePort]; dup {
			return Routes{}, &SpecError{Flag: "-R", Value: s,
				Reason: fmt.Sprintf("remote port %d is already forwarded by -R %q", r.RemotePort, prev)}
		}
		seenRemote[r.RemotePort] = s
		rs.Remote = append(rs.Remote, r)
	}
	if len(rs.Local) == 0 && len(rs.Remote) == 0 {
		return Routes{}, fmt.Errorf("nothing to forward: give at least one -L [LOCAL_PORT:]HOST:REMOTE_PORT or -R [REMOTE_PORT:]LOCAL_PORT")
	}
	return rs, nil
}
