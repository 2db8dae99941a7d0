package protocol

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// The multiplexer is hashicorp/yamux: measured on the development machine
// (BenchmarkMuxThroughput, BenchmarkMuxStreamOpen) it beat xtaci/smux both
// in single-stream throughput and in stream open + round-trip latency.

// streamWindow is the per-stream receive window: large enough to keep a
// port-forwarded link busy, small enough that 1,000 idle streams stay cheap.
const streamWindow = 1 << 20

func muxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.AcceptBacklog = 1024
	cfg.MaxStreamWindowSize = streamWindow
	cfg.StreamCloseTimeout = 30 * time.Second
	cfg.KeepAliveInterval = 15 * time.Second
	// A stream write may wait this long for the shared connection. yamux's
	// default (10 s) cut streams short under load (1,000 busy streams on a
	// slow machine); a dead peer is still found by the keep-alive.
	cfg.ConnectionWriteTimeout = 60 * time.Second
	cfg.LogOutput = io.Discard
	return cfg
}

// Session is the multiplexed connection between one client and the agent.
type Session struct {
	mux *yamux.Session
}

// NewSession starts the multiplexer on conn, after the handshake. The client
// side passes server=false.
func NewSession(conn io.ReadWriteCloser, server bool) (*Session, error) {
	var (
		s   *yamux.Session
		err error
	)
	wc := newCoalescingConn(conn)
	if server {
		s, err = yamux.Server(wc, muxConfig())
	} else {
		s, err = yamux.Client(wc, muxConfig())
	}
	if err != nil {
		return nil, fmt.Errorf("start stream multiplexer: %w", err)
	}
	return &Session{mux: s}, nil
}

// Open opens a new stream.
func (s *Session) Open(ctx context.Context) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := s.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	return &Stream{Stream: st}, nil
}

// Accept waits for the peer to open a stream.
func (s *Session) Accept() (*Stream, error) {
	st, err := s.mux.AcceptStream()
	if err != nil {
		return nil, err
	}
	return &Stream{Stream: st}, nil
}

// Close closes the session and every stream.
func (s *Session) Close() error { return s.mux.Close() }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.mux.CloseChan() }

// NumStreams is the number of open streams.
func (s *Session) NumStreams() int { return s.mux.NumStreams() }

// Stream is one multiplexed stream: a net.Conn with TCP-like half-close.
type Stream struct {
	*yamux.Stream
}

// CloseWrite ends the write side; the peer reads EOF, this side can still
// read.
func (s *Stream) CloseWrite() error { return s.Stream.Close() }

// Close ends the stream. Data the peer still sends is discarded in the
// background until it closes too (or the close timeout resets the stream),
// so the peer never blocks on a full window.
func (s *Stream) Close() error {
	err := s.Stream.Close()
	go func() {
		_ = s.Stream.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _ = io.Copy(io.Discard, s.Stream)
	}()
	return err
}
