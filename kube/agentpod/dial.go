package agentpod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// Dial opens one byte stream to port on pod's loopback through the
// pods/portforward subresource: WebSocket (SPDY tunnelled, the default of
// current API servers) with a fallback to plain SPDY upgrade. The stream is
// an io.ReadWriteCloser for protocol.NewClient; closing it ends the
// port-forward connection.
func Dial(ctx context.Context, cfg *rest.Config, namespace, pod string, port int32) (io.ReadWriteCloser, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube client: %w", err)
	}
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	wsDialer, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward websocket dialer: %w", err)
	}
	dialer := portforward.NewFallbackDialerForStreaming(wsDialer, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	type result struct {
		conn httpstream.Connection
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
		ch <- result{conn, err}
	}()
	var conn httpstream.Connection
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, r.err)
		}
		conn = r.conn
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
	s, err := openStreams(conn, port)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, pod, port, err)
	}
	return s, nil
}

var requestIDs atomic.Int64

// stream is the data stream of one port-forward request.
type stream struct {
	conn      httpstream.Connection
	data, err httpstream.Stream

	once     sync.Once
	closed   atomic.Bool // by Close: errors need no explanation
	mu       sync.Mutex
	remote   error // what the kubelet reported on the error stream
	errReady chan struct{}
}

func openStreams(conn httpstream.Connection, port int32) (*stream, error) {
	id := strconv.FormatInt(requestIDs.Add(1), 10)
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
	h.Set(corev1.PortForwardRequestIDHeader, id)
	errStream, err := conn.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("create error stream: %w", err)
	}
	errStream.Close() // we only read from it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("create data stream: %w", err)
	}
	s := &stream{conn: conn, data: data, err: errStream, errReady: make(chan struct{})}
	go func() {
		defer close(s.errReady)
		msg, err := io.ReadAll(errStream)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			s.remote = fmt.Errorf("port-forward error stream: %w", err)
		case len(msg) > 0:
			s.remote = fmt.Errorf("port-forward: %s", strings.TrimSpace(string(msg)))
		}
		if s.remote != nil {
			s.data.Reset()
		}
	}()
	return s, nil
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.data.Read(p)
	if err != nil {
		if r := s.remoteErr(); r != nil {
			return n, r
		}
	}
	return n, err
}

func (s *stream) Write(p []byte) (int, error) {
	n, err := s.data.Write(p)
	if err != nil {
		if r := s.remoteErr(); r != nil {
			return n, r
		}
	}
	return n, err
}

// remoteErr returns the kubelet's error, waiting briefly for it to arrive
// (it usually explains why the data stream broke).
func (s *stream) remoteErr() error {
	if s.closed.Load() {
		return nil
	}
	select {
	case <-s.errReady:
	case <-time.After(100 * time.Millisecond):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote
}

// Close ends the stream at once. The data stream is reset, not
// half-closed: a half-closed stream keeps its read side (and the
// connection under it) open until the far end says goodbye too, which
// through the API server took 10 s, and the agent protocol's Close waits
// for its reader.
func (s *stream) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		_ = s.data.Reset()
		s.conn.RemoveStreams(s.data, s.err)
		s.conn.Close()
	})
	return nil
}
