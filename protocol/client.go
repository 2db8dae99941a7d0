package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Client.
type Options struct {
	// Token is the session's secret; the agent closes connections without it.
	Token string
	// Info describes this client in the agent's logs.
	Info ClientInfo
}

// Client is one connection to an agent. It is safe for concurrent use: every
// method opens its own stream.
type Client struct {
	sess    *Session
	welcome Welcome

	nextSub atomic.Uint64
	mu      sync.Mutex
	subs    map[uint64]*Subscription
}

// Dial connects to the agent at addr ("host:port") over TCP.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to agent at %s: %w", addr, err)
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewClient runs the handshake on conn (any reliable byte stream: a TCP
// connection, a kube port-forward stream) and starts the multiplexer. On
// error the caller closes conn.
func NewClient(ctx context.Context, conn io.ReadWriteCloser, opts Options) (*Client, error) {
	if opts.Info.PID == 0 {
		opts.Info.PID = os.Getpid()
	}
	w, err := ClientHandshake(ctx, conn, Hello{Token: opts.Token, Client: opts.Info})
	if err != nil {
		return nil, fmt.Errorf("agent handshake: %w", err)
	}
	sess, err := NewSession(conn, false)
	if err != nil {
		return nil, err
	}
	c := &Client{sess: sess, welcome: *w, subs: map[uint64]*Subscription{}}
	go c.acceptIncoming()
	return c, nil
}

// Welcome is the agent's handshake answer: versions and capabilities.
func (c *Client) Welcome() Welcome { return c.welcome }

// Close closes the connection and every stream and subscription on it.
func (c *Client) Close() error { return c.sess.Close() }

// Done is closed when the connection to the agent ends.
func (c *Client) Done() <-chan struct{} { return c.sess.Done() }

// roundTrip opens a stream, sends req (followed by early, the first raw
// bytes of the stream's payload, when not nil), reads the response (and its
// data) and returns the still-open stream.
func (c *Client) roundTrip(ctx context.Context, req *Request, maxData int, early []byte) (*Stream, *Response, []byte, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, nil, err
	}
	st, err := c.sess.Open(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", req.Kind, err)
	}
	stop := watchContext(ctx, st)
	resp, data, err := exchange(st, req, nil, early, maxData)
	if stopErr := stop(); stopErr != nil {
		err = stopErr
	}
	if err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("%s: %w", req.Kind, err)
	}
	if resp.Error != nil {
		st.Close()
		return nil, nil, nil, resp.Error
	}
	return st, resp, data, nil
}

// call is roundTrip for one-shot kinds: the stream is closed afterwards.
func (c *Client) call(ctx context.Context, req *Request, maxData int) (*Response, []byte, error) {
	st, resp, data, err := c.roundTrip(ctx, req, maxData, nil)
	if err != nil {
		return nil, nil, err
	}
	st.Close()
	return resp, data, nil
}

// exchange writes one message followed by early, the first raw bytes of
// the stream's payload (nil for most requests), in one write, and reads the
// answer.
func exchange(rw io.ReadWriter, header any, data, early []byte, maxData int) (*Response, []byte, error) {
	if err := writeMessage(rw, header, data, early); err != nil {
		return nil, nil, err
	}
	var resp Response
	out, err := ReadMessage(rw, &resp, maxData)
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	return &resp, out, nil
}

// watchContext makes blocking I/O on st fail when ctx ends. The returned
// function stops watching and returns ctx's error if it fired.
func watchContext(ctx context.Context, st *Stream) func() error {
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	stopAfter := context.AfterFunc(ctx, func() { _ = st.SetDeadline(time.Unix(1, 0)) })
	return func() error {
		stopped := stopAfter()
		_ = st.SetDeadline(time.Time{})
		if !stopped || ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
}

// Env returns the target's environment filtered by req.
func (c *Client) Env(ctx context.Context, req EnvRequest) (map[string]string, error) {
	resp, _, err := c.call(ctx, &Request{Kind: KindEnv, Env: &req}, 1)
	if err != nil {
		return nil, err
	}
	if resp.Env == nil {
		return map[string]string{}, nil
	}
	return resp.Env, nil
}

// LookupHost resolves host in the target like getaddrinfo. A failure is an
// *Error with Code CodeDNS and the EAI code.
func (c *Client) LookupHost(ctx context.Context, host string, family Family) ([]netip.Addr, error) {
	resp, _, err := c.call(ctx, &Request{Kind: KindDNS, DNS: &DNSRequest{Host: host, Family: family}}, 1)
	if err != nil {
		return nil, err
	}
	if resp.DNS == nil {
		return nil, fmt.Errorf("dns: agent sent no addresses")
	}
	return resp.DNS.Addrs, nil
}

// Conn is an outgoing or incoming connection carried by a stream.
type Conn struct {
	*Stream
	// Local and Remote are the addresses of the connection in the target.
	Local, Remote string
}

// DialTCP connects to addr ("ip:port") from inside the target's network
// namespace. The returned Conn carries the connection's bytes; CloseWrite
// half-closes it.
func (c *Client) DialTCP(ctx context.Context, addr string) (*Conn, error) {
	return c.dialStream(ctx, KindTCP, ConnectRequest{Addr: addr}, nil)
}

// DialTCPSending is DialTCP that sends first, the connection's first
// bytes, together with the request instead of after the answer: the agent
// holds them in the stream while it connects and passes them on once
// connected, so a new connection's first byte costs one round trip to the
// agent, not two. When the connect fails nobody received first.
func (c *Client) DialTCPSending(ctx context.Context, addr string, first []byte) (*Conn, error) {
	if len(first) > MaxEarlyData {
		return nil, fmt.Errorf("%s: %d early bytes (limit %d): %w", KindTCP, len(first), MaxEarlyData, ErrTooLarge)
	}
	return c.dialStream(ctx, KindTCP, ConnectRequest{Addr: addr}, first)
}

// MaxEarlyData bounds the bytes DialTCPSending sends ahead of the answer:
// well inside a stream's receive window, so they never wait for one.
const MaxEarlyData = 64 << 10

// DialUnix connects to the unix stream socket at path under the target's
// root.
func (c *Client) DialUnix(ctx context.Context, path string) (*Conn, error) {
	return c.dialStream(ctx, KindUnix, ConnectRequest{Path: path}, nil)
}

func (c *Client) dialStream(ctx context.Context, kind Kind, req ConnectRequest, early []byte) (*Conn, error) {
	st, resp, _, err := c.roundTrip(ctx, &Request{Kind: kind, Connect: &req}, 1, early)
	if err != nil {
		return nil, err
	}
	conn := &Conn{Stream: st}
	if resp.Connect != nil {
		conn.Local, conn.Remote = resp.Connect.Local, resp.Connect.Remote
	}
	return conn, nil
}

// PacketConn is a connected UDP socket in the target.
type PacketConn struct {
	Conn
	rmu sync.Mutex
	wmu sync.Mutex
}

// DialUDP opens a UDP socket in the target's network namespace connected
// to addr.
func (c *Client) DialUDP(ctx context.Context, addr string) (*PacketConn, error) {
	conn, err := c.dialStream(ctx, KindUDP, ConnectRequest{Addr: addr}, nil)
	if err != nil {
		return nil, err
	}
	return &PacketConn{Conn: *conn}, nil
}

// WriteDatagram sends one datagram.
func (p *PacketConn) WriteDatagram(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return WriteDatagram(p.Stream, b)
}

// ReadDatagram receives one datagram into buf (MaxDatagramSize bytes hold
// any datagram) and returns its length.
func (p *PacketConn) ReadDatagram(buf []byte) (int, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	return ReadDatagram(p.Stream, buf)
}

// errSessionClosed is returned by Accept after the client closed.
var errSessionClosed = errors.New("agent connection closed")
