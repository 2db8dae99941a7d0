package protocol

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Subscription receives the incoming connections (or HTTP requests) of one
// subscribed port.
type Subscription struct {
	c     *Client
	id    uint64
	req   SubscribeRequest
	st    *Stream
	ch    chan *IncomingConn
	done  chan struct{}
	once  sync.Once
	ended error
}

// IncomingConn is one incoming connection or, for filtered steal, one HTTP
// request.
//
//   - steal: the stream is the peer's connection; write the answer to it.
//   - mirror: reading gives a copy of the bytes the peer sent to the app;
//     writes are ignored.
//   - filtered steal (Info.HTTP): ReadRequest gives the request; write one
//     response (WriteResponse or raw HTTP/1.1 bytes) and Close.
type IncomingConn struct {
	*Stream
	Info Incoming
	br   *bufio.Reader
}

// Read reads the connection's bytes.
func (in *IncomingConn) Read(p []byte) (int, error) { return in.br.Read(p) }

// ReadRequest parses the HTTP request of a filtered-steal stream.
func (in *IncomingConn) ReadRequest() (*http.Request, error) {
	return http.ReadRequest(in.br)
}

// WriteResponse sends resp to the peer and ends the stream's write side.
func (in *IncomingConn) WriteResponse(resp *http.Response) error {
	if err := resp.Write(in.Stream); err != nil {
		return fmt.Errorf("write stolen http response: %w", err)
	}
	return in.CloseWrite()
}

// Subscribe subscribes to an incoming port. Incoming connections queue
// until Accept takes them; close the Subscription to unsubscribe.
func (c *Client) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	req.ID = c.nextSub.Add(1)
	sub := &Subscription{c: c, id: req.ID, req: req, ch: make(chan *IncomingConn, 64), done: make(chan struct{})}
	c.mu.Lock()
	c.subs[req.ID] = sub
	c.mu.Unlock()
	st, _, _, err := c.roundTrip(ctx, &Request{Kind: KindSubscribe, Subscribe: &req}, 1, nil)
	if err != nil {
		c.removeSub(req.ID)
		return nil, err
	}
	sub.st = st
	go sub.watch()
	return sub, nil
}

// Port is the subscribed port.
func (s *Subscription) Port() uint16 { return s.req.Port }

// watch ends the subscription when the agent closes its stream.
func (s *Subscription) watch() {
	_, err := io.Copy(io.Discard, s.st)
	if err == nil {
		err = fmt.Errorf("subscription to port %d ended by the agent", s.req.Port)
	}
	s.end(err)
}

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.ended = err
		close(s.done)
		s.c.removeSub(s.id)
		s.st.Close()
	})
}

// Accept waits for the next incoming connection.
func (s *Subscription) Accept(ctx context.Context) (*IncomingConn, error) {
	select {
	case in := <-s.ch:
		return in, nil
	default:
	}
	select {
	case in := <-s.ch:
		return in, nil
	case <-s.done:
		return nil, s.ended
	case <-s.c.Done():
		return nil, errSessionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close unsubscribes. Connections already accepted stay open.
func (s *Subscription) Close() error {
	s.end(fmt.Errorf("subscription to port %d closed", s.req.Port))
	return nil
}

func (c *Client) removeSub(id uint64) {
	c.mu.Lock()
	delete(c.subs, id)
	c.mu.Unlock()
}

// acceptIncoming takes agent-opened streams and hands them to their
// subscription.
func (c *Client) acceptIncoming() {
	for {
		st, err := c.sess.Accept()
		if err != nil {
			return
		}
		go c.dispatch(st)
	}
}

func (c *Client) dispatch(st *Stream) {
	_ = st.SetReadDeadline(time.Now().Add(HandshakeTimeout))
	br := bufio.NewReaderSize(st, 32<<10)
	var hdr Incoming
	if _, err := ReadMessage(br, &hdr, 1); err != nil || hdr.Kind != KindIncoming {
		st.Close()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	c.mu.Lock()
	sub := c.subs[hdr.Subscription]
	c.mu.Unlock()
	if sub == nil {
		st.Close()
		return
	}
	in := &IncomingConn{Stream: st, Info: hdr, br: br}
	select {
	case sub.ch <- in:
	case <-sub.done:
		st.Close()
	}
}
