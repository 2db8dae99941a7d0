package protocol

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is the protocol version this package speaks, "major.minor". Peers
// with the same major version are compatible; a minor bump only adds stream
// kinds, fields or capabilities, which are announced in Welcome.Capabilities.
const Version = "1.0"

// Magic identifies the protocol in Hello and Welcome.
const Magic = "mirrord-ls-agent"

// HandshakeTimeout bounds how long either side waits for the other's
// handshake message (the agent may choose a shorter bound through the
// context it passes to ServerHandshake).
const HandshakeTimeout = 10 * time.Second

// MaxHelloSize bounds the JSON header of a Hello. A Hello is a few hundred
// bytes; the agent reads one from connections that have not authenticated
// yet, so it is far below MaxHeaderSize and its buffer grows only as bytes
// arrive.
const MaxHelloSize = 4 << 10

// Capabilities an agent may announce.
const (
	CapEnv        = "env"
	CapDNS        = "dns"
	CapTCP        = "tcp"
	CapUDP        = "udp"
	CapUnix       = "unix"
	CapFiles      = "files"
	CapSteal      = "incoming.steal"
	CapMirror     = "incoming.mirror"
	CapHTTPFilter = "incoming.http_filter"
)

// ClientInfo describes the client for the agent's logs.
type ClientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PID     int    `json:"pid,omitempty"`
}

// Hello is the first message on a connection, sent by the client.
type Hello struct {
	Magic    string     `json:"magic"`
	Protocol string     `json:"protocol"`
	Token    string     `json:"token"`
	Client   ClientInfo `json:"client"`
}

// Welcome is the agent's answer to an accepted Hello. When Error is set the
// agent refuses the client (incompatible version) and closes the connection.
type Welcome struct {
	Magic        string   `json:"magic"`
	Protocol     string   `json:"protocol"`
	AgentVersion string   `json:"agent_version,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// Has reports whether the agent announced capability c.
func (w *Welcome) Has(c string) bool {
	for _, x := range w.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// ErrIncompatible is wrapped by handshake errors caused by a protocol
// version mismatch.
var ErrIncompatible = errors.New("incompatible agent protocol version")

// ErrRejected is returned to a client whose connection the agent closed
// without a Welcome: a wrong or missing token, or not an agent at all.
var ErrRejected = errors.New("agent closed the connection during the handshake (wrong or missing token?)")

// ErrNotAgent is wrapped by handshake errors caused by a peer that answered
// something other than a Welcome of this protocol (another program, or an
// agent of another protocol, e.g. the official mirrord agent): retrying
// cannot help.
var ErrNotAgent = errors.New("the peer is not a mirrord-ls agent")

// ParseVersion splits "major.minor" into numbers.
func ParseVersion(v string) (major, minor int, err error) {
	maj, min, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, fmt.Errorf("protocol version %q: want major.minor", v)
	}
	major, err1 := strconv.Atoi(maj)
	minor, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return 0, 0, fmt.Errorf("protocol version %q: want major.minor with non-negative numbers", v)
	}
	return major, minor, nil
}

// Compatible reports whether a peer speaking version peer can talk to this
// package, with an error that explains why not.
func Compatible(peer string) error {
	pm, _, err := ParseVersion(peer)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIncompatible, err)
	}
	om, _, _ := ParseVersion(Version)
	if pm != om {
		return fmt.Errorf("%w: peer speaks %s, this side speaks %s (major versions differ)", ErrIncompatible, peer, Version)
	}
	return nil
}

// TokenEqual compares two tokens in constant time (independent of where they
// differ and of their lengths).
func TokenEqual(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// ClientHandshake sends hello on conn and waits for the agent's Welcome.
// conn is any reliable byte stream; when it has no deadlines (a kube
// port-forward stream), it is closed if ctx ends or the handshake times out.
func ClientHandshake(ctx context.Context, conn io.ReadWriteCloser, hello Hello) (*Welcome, error) {
	hello.Magic = Magic
	if hello.Protocol == "" {
		hello.Protocol = Version
	}
	stop := deadlineFromContext(ctx, conn, HandshakeTimeout)
	defer stop()
	if err := WriteMessage(conn, hello, nil); err != nil {
		return nil, fmt.Errorf("send hello: %w", ctxErr(ctx, err))
	}
	var w Welcome
	rc := &readCounter{r: conn}
	if _, err := ReadMessage(rc, &w, 1); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("agent handshake: %w", ctx.Err())
		}
		if rc.n > 0 {
			// It answered, but not with a Welcome: garbage, a frame of
			// another protocol, or a few bytes and then the end.
			return nil, fmt.Errorf("read agent welcome: %w: %d bytes that are no Welcome (%v)", ErrNotAgent, rc.n, err)
		}
		if isClosed(err) {
			return nil, ErrRejected
		}
		return nil, fmt.Errorf("read agent welcome: %w", err)
	}
	if w.Magic != Magic {
		return nil, fmt.Errorf("read agent welcome: %w (magic %q)", ErrNotAgent, w.Magic)
	}
	if w.Error != "" {
		return &w, fmt.Errorf("agent refused the client: %s", w.Error)
	}
	if err := Compatible(w.Protocol); err != nil {
		return &w, err
	}
	return &w, nil
}

// ServerHandshake reads the client's Hello. A wrong or missing token returns
// ErrBadToken and the caller must close the connection without answering.
// The Hello may be at most MaxHelloSize bytes of header and carry no data;
// the wait for it ends at the earlier of ctx's deadline and HandshakeTimeout.
// An incompatible version is answered with a Welcome carrying the error and
// returned as an error wrapping ErrIncompatible. On success the Welcome built
// from info is sent.
func ServerHandshake(ctx context.Context, conn net.Conn, token string, info Welcome) (*Hello, error) {
	return ServerHandshakeAdmit(ctx, conn, token, info, nil)
}

// ServerHandshakeAdmit is ServerHandshake that calls admit, when not nil,
// after the token was found right and before the Welcome is sent. An error
// from admit (the agent has no room for the client) is returned and nothing
// is sent, so the client is never welcomed into a session that ends at
// once.
func ServerHandshakeAdmit(ctx context.Context, conn net.Conn, token string, info Welcome, admit func() error) (*Hello, error) {
	stop := deadlineFromContext(ctx, conn, HandshakeTimeout)
	defer stop()
	var h Hello
	if _, err := readMessage(conn, &h, MaxHelloSize, 1); err != nil {
		return nil, fmt.Errorf("read client hello: %w", err)
	}
	if h.Magic != Magic {
		return nil, fmt.Errorf("read client hello: %w (magic %q)", ErrBadHello, h.Magic)
	}
	if !TokenEqual(h.Token, token) {
		return &h, ErrBadToken
	}
	info.Magic = Magic
	info.Protocol = Version
	if err := Compatible(h.Protocol); err != nil {
		refusal := Welcome{Magic: Magic, Protocol: Version, AgentVersion: info.AgentVersion, Error: err.Error()}
		_ = WriteMessage(conn, refusal, nil)
		return &h, err
	}
	if admit != nil {
		if err := admit(); err != nil {
			return &h, err
		}
	}
	if err := WriteMessage(conn, info, nil); err != nil {
		return &h, fmt.Errorf("send welcome: %w", err)
	}
	return &h, nil
}

// ErrBadToken is returned by ServerHandshake for a wrong or missing token.
var ErrBadToken = errors.New("client presented a wrong or missing token")

// ErrBadHello is returned by ServerHandshake for a first message that is not
// a Hello of this protocol.
var ErrBadHello = errors.New("not a mirrord-ls agent hello")

// deadliner is the deadline part of net.Conn.
type deadliner interface {
	SetDeadline(time.Time) error
}

// deadlineFromContext bounds the I/O on conn by the earlier of ctx's
// deadline and now+max, and makes it fail at once when ctx is cancelled. It
// returns a function that lifts the bound. A conn without deadlines is
// closed instead when the bound is hit.
func deadlineFromContext(ctx context.Context, conn io.Closer, max time.Duration) func() {
	d := time.Now().Add(max)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	if dl, ok := conn.(deadliner); ok {
		_ = dl.SetDeadline(d)
		stopAfter := context.AfterFunc(ctx, func() { _ = dl.SetDeadline(time.Unix(1, 0)) })
		return func() {
			stopAfter()
			_ = dl.SetDeadline(time.Time{})
		}
	}
	timer := time.AfterFunc(time.Until(d), func() { _ = conn.Close() })
	stopAfter := context.AfterFunc(ctx, func() { _ = conn.Close() })
	return func() {
		timer.Stop()
		stopAfter()
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readCounter counts the bytes read through it.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// isClosed reports whether err means the peer closed or reset the
// connection.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
