package agent

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/agent/incoming"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/internal/envfilter"
	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// requestTimeout bounds reading a stream's first message. The client is
// authenticated, and a stream's request shares the connection with every
// other stream's data: under load (1,000 streams busy on a slow machine) it
// can wait behind megabytes, so the bound is generous; it only stops a
// stream that never asks from holding a goroutine forever.
const requestTimeout = 60 * time.Second

// errEvicted ends the handshake of a connection that addPending closed.
var errEvicted = errors.New("closed as the oldest connection in the handshake (too many pending)")

// clientConn is one authenticated client.
type clientConn struct {
	a    *Agent
	sess *protocol.Session
	log  *slog.Logger
	ctx  context.Context

	mu   sync.Mutex
	subs map[uint64]bool
}

func (a *Agent) serveClient(ctx context.Context, conn net.Conn, pending *list.Element) {
	defer conn.Close()
	log := a.cfg.Log.With("client", conn.RemoteAddr().String())
	hctx, hcancel := context.WithTimeout(ctx, a.cfg.HandshakeTimeout)
	admitted := false
	hello, err := protocol.ServerHandshakeAdmit(hctx, conn, a.cfg.Token, protocol.Welcome{
		AgentVersion: a.cfg.Version,
		Capabilities: a.Capabilities(),
	}, func() error {
		// Counted as a client before the Welcome goes out, so that no
		// newer connection can evict it once it was welcomed.
		if !a.donePending(pending, true) {
			return errEvicted
		}
		admitted = true
		return nil
	})
	hcancel()
	if err != nil {
		if admitted {
			// The Welcome could not be sent.
			a.clientLeft()
		} else {
			a.donePending(pending, false)
		}
		switch {
		case errors.Is(err, protocol.ErrBadToken):
			a.rejects.note(log, "rejected client: wrong or missing token")
		case errors.Is(err, protocol.ErrIncompatible):
			log.Warn("rejected client", "err", err)
		default:
			a.rejects.note(log, "rejected connection", "err", err)
		}
		return
	}
	defer a.clientLeft()
	sess, err := protocol.NewSession(conn, true)
	if err != nil {
		log.Warn("start session", "err", err)
		return
	}
	defer sess.Close()
	log = log.With("name", hello.Client.Name, "pid", hello.Client.PID)
	log.Info("client connected", "client_version", hello.Client.Version, "protocol", hello.Protocol)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cctx.Done():
			sess.Close()
		case <-sess.Done():
		}
	}()
	c := &clientConn{a: a, sess: sess, log: log, ctx: cctx, subs: map[uint64]bool{}}
	var wg sync.WaitGroup
	for {
		st, err := sess.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			c.handle(st)
		}()
	}
	cancel()
	wg.Wait()
	log.Info("client disconnected")
}

// OpenIncoming opens a stream towards the client (incoming.Opener).
func (c *clientConn) OpenIncoming(ctx context.Context, hdr protocol.Incoming) (incoming.Stream, error) {
	st, err := c.sess.Open(ctx)
	if err != nil {
		return nil, err
	}
	if err := protocol.WriteMessage(st, hdr, nil); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func reply(st *protocol.Stream, resp *protocol.Response, data []byte) error {
	return protocol.WriteMessage(st, resp, data)
}

func replyErr(st *protocol.Stream, code protocol.ErrorCode, err error) {
	_ = reply(st, &protocol.Response{Error: protocol.ErrorFrom(code, err)}, nil)
}

// handle serves one client-opened stream.
func (c *clientConn) handle(st *protocol.Stream) {
	_ = st.SetReadDeadline(time.Now().Add(requestTimeout))
	var req protocol.Request
	if _, err := protocol.ReadMessage(st, &req, 1); err != nil {
		c.log.Debug("read request", "err", err)
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	if err := req.Validate(); err != nil {
		replyErr(st, protocol.CodeBadRequest, err)
		return
	}
	ctx := c.ctx
	switch req.Kind {
	case protocol.KindEnv:
		c.env(st, req.Env)
	case protocol.KindDNS:
		addrs, err := c.a.resolver.Lookup(ctx, req.DNS.Host, req.DNS.Family)
		if err != nil {
			replyErr(st, protocol.CodeDNS, err)
			return
		}
		_ = reply(st, &protocol.Response{DNS: &protocol.DNSResponse{Addrs: addrs}}, nil)
	case protocol.KindTCP, protocol.KindUDP:
		c.dial(ctx, st, req.Kind, req.Connect)
	case protocol.KindUnix:
		c.dialUnix(ctx, st, req.Connect)
	case protocol.KindFile:
		resp, data, err := c.a.root.Do(*req.File)
		if err != nil {
			replyErr(st, protocol.CodeIO, err)
			return
		}
		_ = reply(st, &protocol.Response{File: resp}, data)
	case protocol.KindOpen:
		c.open(st, req.File)
	case protocol.KindSubscribe:
		c.subscribe(ctx, st, req.Subscribe)
	}
}

func (c *clientConn) env(st *protocol.Stream, req *protocol.EnvRequest) {
	env, err := c.a.cfg.Target.Environ()
	if err != nil {
		replyErr(st, protocol.CodeIO, err)
		return
	}
	out, err := envfilter.Apply(env, req.Include, req.Exclude)
	if err != nil {
		replyErr(st, protocol.CodeBadRequest, err)
		return
	}
	_ = reply(st, &protocol.Response{Env: out}, nil)
}

// dial opens an outgoing TCP or UDP socket in the target's namespace.
func (c *clientConn) dial(ctx context.Context, st *protocol.Stream, kind protocol.Kind, req *protocol.ConnectRequest) {
	host, _, err := net.SplitHostPort(req.Addr)
	if err != nil || net.ParseIP(host) == nil {
		replyErr(st, protocol.CodeBadRequest, fmt.Errorf("connect address %q: want ip:port (resolve names with a dns stream)", req.Addr))
		return
	}
	d := net.Dialer{Timeout: netns.ConnectTimeout}
	network := "tcp"
	if kind == protocol.KindUDP {
		network = "udp"
	}
	conn, err := c.a.dialOutgoing(ctx, &d, network, req.Addr)
	if err != nil {
		code := protocol.CodeIO
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code = protocol.CodeTimeout
		}
		e := protocol.ErrorFrom(code, err)
		if code == protocol.CodeTimeout && e.Errno == 0 {
			e.Errno = int(unix.ETIMEDOUT)
		}
		_ = reply(st, &protocol.Response{Error: e}, nil)
		return
	}
	defer conn.Close()
	if err := reply(st, &protocol.Response{Connect: &protocol.ConnectResponse{Local: conn.LocalAddr().String(), Remote: conn.RemoteAddr().String()}}, nil); err != nil {
		return
	}
	if kind == protocol.KindUDP {
		relayDatagrams(st, conn)
		return
	}
	relay.Pipe(st, conn, relay.Options{})
}

// dialUnix connects to a unix stream socket under the target root: the
// parent directory is resolved inside the root, then the socket is reached
// through /proc/self/fd.
func (c *clientConn) dialUnix(ctx context.Context, st *protocol.Stream, req *protocol.ConnectRequest) {
	dir, base, err := c.a.root.Parent(req.Path)
	if err != nil {
		replyErr(st, protocol.CodeIO, err)
		return
	}
	defer dir.Close()
	addr := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), base)
	d := net.Dialer{Timeout: netns.ConnectTimeout}
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		replyErr(st, protocol.CodeIO, fmt.Errorf("connect to unix socket %s: %w", req.Path, err))
		return
	}
	defer conn.Close()
	if err := reply(st, &protocol.Response{Connect: &protocol.ConnectResponse{Local: "", Remote: req.Path}}, nil); err != nil {
		return
	}
	relay.Pipe(st, conn, relay.Options{})
}

// relayDatagrams moves framed datagrams between the stream and a connected
// UDP socket.
func relayDatagrams(st *protocol.Stream, conn net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, protocol.MaxDatagramSize)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if protocol.WriteDatagram(st, buf[:n]) != nil {
				return
			}
		}
	}()
	buf := make([]byte, protocol.MaxDatagramSize)
	for {
		n, err := protocol.ReadDatagram(st, buf)
		if err != nil {
			break
		}
		if _, err := conn.Write(buf[:n]); err != nil && !errors.Is(err, unix.ECONNREFUSED) {
			break
		}
	}
	conn.Close()
	<-done
}

// open serves a file handle stream.
func (c *clientConn) open(st *protocol.Stream, req *protocol.FileRequest) {
	if req.Op != protocol.OpOpen {
		replyErr(st, protocol.CodeBadRequest, fmt.Errorf("open stream with operation %q", req.Op))
		return
	}
	h, stat, err := c.a.root.Open(req.Path, req.Flags, req.Mode)
	if err != nil {
		replyErr(st, protocol.CodeIO, err)
		return
	}
	defer h.Close()
	if err := reply(st, &protocol.Response{File: &protocol.FileResponse{Stat: stat}}, nil); err != nil {
		return
	}
	for {
		var hr protocol.HandleRequest
		data, err := protocol.ReadMessage(st, &hr, protocol.MaxDataSize)
		if err != nil {
			return
		}
		resp, out, err := h.Do(hr, data)
		if err != nil {
			replyErr(st, protocol.CodeIO, err)
			continue
		}
		if reply(st, &protocol.Response{File: resp}, out) != nil {
			return
		}
	}
}

// subscribe serves a subscription stream: the subscription lives until the
// client closes the stream or disconnects.
func (c *clientConn) subscribe(ctx context.Context, st *protocol.Stream, req *protocol.SubscribeRequest) {
	if c.a.redir == nil {
		replyErr(st, protocol.CodeUnsupported, errors.New("incoming traffic is not available in targetless mode"))
		return
	}
	c.mu.Lock()
	dup := c.subs[req.ID]
	c.subs[req.ID] = true
	c.mu.Unlock()
	if dup {
		replyErr(st, protocol.CodeBadRequest, fmt.Errorf("subscription id %d is already in use", req.ID))
		return
	}
	defer func() {
		c.mu.Lock()
		delete(c.subs, req.ID)
		c.mu.Unlock()
	}()
	unsubscribe, err := c.a.redir.Subscribe(ctx, c, *req)
	if err != nil {
		replyErr(st, protocol.CodeInternal, err)
		return
	}
	defer unsubscribe()
	c.log.Info("subscribed", "port", req.Port, "mode", req.Mode, "filtered", req.Filter != nil)
	if reply(st, &protocol.Response{Subscribe: &protocol.SubscribeResponse{Port: req.Port}}, nil) != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	_, _ = io.Copy(io.Discard, st)
	c.log.Info("unsubscribed", "port", req.Port, "mode", req.Mode)
}
