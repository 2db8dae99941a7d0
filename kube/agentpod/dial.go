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
	t, err := OpenTunnel(ctx, cfg, namespace, pod)
	if err != nil {
		return nil, err
	}
	s, err := t.open(port)
	if err != nil {
		t.Close()
		return nil, err
	}
	s.ownsConn = true
	return s, nil
}

// Tunnel is one port-forward connection to a pod. Each DialPort opens a new
// connection to a port on the pod's loopback through it (an error and a data
// stream, as kubectl port-forward does), so a connection costs no TLS
// handshake or upgrade of its own.
type Tunnel struct {
	conn           httpstream.Connection
	Namespace, Pod string
}

// OpenTunnel dials the pod's port-forward subresource.
func OpenTunnel(ctx context.Context, cfg *rest.Config, namespace, pod string) (*Tunnel, error) {
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
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, r.err)
		}
		return &Tunnel{conn: r.conn, Namespace: namespace, Pod: pod}, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// DialPort opens a connection to port on the pod's loopback. Closing it
// leaves the tunnel open; CloseWrite half-closes it.
func (t *Tunnel) DialPort(port int32) (io.ReadWriteCloser, error) {
	return t.open(port)
}

func (t *Tunnel) open(port int32) (*stream, error) {
	s, err := openStreams(t.conn, port)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", t.Namespace, t.Pod, port, err)
	}
	return s, nil
}

// Done is closed when the tunnel's connection has ended.
func (t *Tunnel) Done() <-chan bool { return t.conn.CloseChan() }

func (t *Tunnel) ended() bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// Close ends the tunnel and every connection through it.
func (t *Tunnel) Close() error { return t.conn.Close() }

var requestIDs atomic.Int64

// stream is the data stream of one port-forward request.
type stream struct {
	conn      httpstream.Connection
	data, err httpstream.Stream
	ownsConn  bool // Close ends the connection too (Dial's one-stream tunnel)

	once     sync.Once
	closed   atomic.Bool // by Close: errors need no explanation
	mu       sync.Mutex
	remote   error // what the kubelet reported on the error stream
	errReady chan struct{}
}

func openStreams(conn httpstream.Connection, port int32) (*stream, error) {
	id := strconv.FormatInt(requestIDs.Add(1), 10)
	header := func(kind string) http.Header {
		h := http.Header{}
		h.Set(corev1.StreamType, kind)
		h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
		h.Set(corev1.PortForwardRequestIDHeader, id)
		return h
	}
	// The kubelet pairs the two streams by request id, in either order:
	// they are created at once, so a connection waits for one round trip
	// to the kubelet, not two (kubectl creates them one after the other).
	var (
		errStream, data httpstream.Stream
		errErr, dataErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() { errStream, errErr = conn.CreateStream(header(corev1.StreamTypeError)) })
	data, dataErr = conn.CreateStream(header(corev1.StreamTypeData))
	wg.Wait()
	if errErr != nil || dataErr != nil {
		for _, st := range []httpstream.Stream{errStream, data} {
			if st != nil {
				_ = st.Reset()
				conn.RemoveStreams(st)
			}
		}
		if errErr != nil {
			return nil, fmt.Errorf("create error stream: %w", errErr)
		}
		return nil, fmt.Errorf("create data stream: %w", dataErr)
	}
	errStream.Close() // we only read from it
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
		if s.ownsConn {
			s.conn.Close()
		}
	})
	return nil
}

// CloseWrite half-closes the data stream: the pod's side reads EOF and can
// still answer.
func (s *stream) CloseWrite() error { return s.data.Close() }

// Tunnels keeps one Tunnel per pod and opens connections to pod ports
// through them; a tunnel that ended is opened again on the next use.
type Tunnels struct {
	cfg *rest.Config
	mu  sync.Mutex
	m   map[string]*Tunnel // by namespace/pod
}

// NewTunnels returns an empty set of tunnels through cfg's API server.
func NewTunnels(cfg *rest.Config) *Tunnels {
	return &Tunnels{cfg: cfg, m: map[string]*Tunnel{}}
}

// DialPod opens a connection to port on the pod's loopback. A tunnel that
// turns out to have ended is opened again, once.
func (ts *Tunnels) DialPod(ctx context.Context, namespace, pod string, port uint16) (io.ReadWriteCloser, error) {
	key := namespace + "/" + pod
	t, err := ts.tunnel(ctx, key, namespace, pod)
	if err != nil {
		return nil, err
	}
	s, err := t.DialPort(int32(port))
	if err == nil || !t.ended() {
		return s, err
	}
	ts.drop(key, t)
	if t, err = ts.tunnel(ctx, key, namespace, pod); err != nil {
		return nil, err
	}
	return t.DialPort(int32(port))
}

func (ts *Tunnels) tunnel(ctx context.Context, key, namespace, pod string) (*Tunnel, error) {
	ts.mu.Lock()
	t := ts.m[key]
	ts.mu.Unlock()
	if t != nil {
		if !t.ended() {
			return t, nil
		}
		ts.drop(key, t)
	}
	t, err := OpenTunnel(ctx, ts.cfg, namespace, pod)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if other := ts.m[key]; other != nil {
		// Another connection opened one meanwhile: use it.
		t.Close()
		return other, nil
	}
	ts.m[key] = t
	return t, nil
}

func (ts *Tunnels) drop(key string, t *Tunnel) {
	ts.mu.Lock()
	if ts.m[key] == t {
		delete(ts.m, key)
	}
	ts.mu.Unlock()
	t.Close()
}

// Use says the target is now namespace/pod: the tunnels to other pods are
// closed, and one to this pod is opened (it returns when it is, or when ctx
// ends), so that the first connection does not wait for it. An error is
// left for the first connection to meet.
func (ts *Tunnels) Use(ctx context.Context, namespace, pod string) {
	ts.keep(namespace, pod)
	_, _ = ts.tunnel(ctx, namespace+"/"+pod, namespace, pod)
}

// keep closes the tunnels to every pod but namespace/pod; empty names
// close them all.
func (ts *Tunnels) keep(namespace, pod string) {
	ts.mu.Lock()
	var stale []*Tunnel
	for k, t := range ts.m {
		if k != namespace+"/"+pod {
			stale = append(stale, t)
			delete(ts.m, k)
		}
	}
	ts.mu.Unlock()
	for _, t := range stale {
		t.Close()
	}
}

// Close closes every tunnel.
func (ts *Tunnels) Close() { ts.keep("", "") }
