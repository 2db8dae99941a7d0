package portforward

import (
	"bufio"
	"context"
	"fmt"
	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// subscribeAll subscribes every -R route on client. On error the
// subscriptions made so far are closed.
func (f *Forwarder) subscribeAll(ctx context.Context, client *protocol.Client, where string) ([]*protocol.Subscription, error) {
	var subs []*protocol.Subscription
	for _, r := range f.cfg.Routes.Remote {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		sub, err := client.Subscribe(sctx, protocol.SubscribeRequest{
			Port:   r.RemotePort,
			Mode:   f.cfg.Incoming.Mode,
			Filter: f.cfg.Incoming.filterFor(r.RemotePort),
		})
		cancel()
		if err != nil {
			for _, s := range subs {
				s.Close()
			}
			return nil, fmt.Errorf("-R %s: subscribe to port %d of %s (%s): %w", r, r.RemotePort, where, f.cfg.Incoming.Mode, err)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// acceptIncoming delivers the incoming connections of one -R route until
// the subscription or ctx ends.
func (f *Forwarder) acceptIncoming(ctx context.Context, r RemoteRoute, sub *protocol.Subscription) {
	defer sub.Close()
	for {
		in, err := sub.Accept(ctx)
		if err != nil {
			return
		}
		if !f.track(in) {
			in.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(in)
			defer in.Close()
			f.serveIncoming(ctx, r, in)
		}()
	}
}

func (f *Forwarder) serveIncoming(ctx context.Context, r RemoteRoute, in *protocol.IncomingConn) {
	id := f.connID.Add(1)
	name := fmt.Sprintf("-R %d #%d", r.RemotePort, id)
	start := time.Now()
	local := f.deliverAddr(r)
	kind := string(in.Info.Mode)
	if in.Info.HTTP {
		kind += " http"
	}
	f.rep.Connf("%s %s from %s to %s -> %s", name, kind, in.Info.Remote, in.Info.Local, local)
	if in.Info.HTTP && in.Info.Mode == protocol.ModeSteal {
		f.serveStolenRequest(ctx, name, r, in)
		return
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := d.DialContext(dctx, "tcp", local)
	cancel()
	if err != nil {
		f.rep.Statusf("%s: deliver to %s: %v", name, local, err)
		return
	}
	if !f.track(c) {
		c.Close()
		return
	}
	defer f.untrack(c)
	defer c.Close()
	_ = c.(*net.TCPConn).SetNoDelay(true)

	var wrapIn, wrapOut func(io.Writer) io.Writer
	if f.rep.Level() >= Data {
		wrapIn = func(w io.Writer) io.Writer { return &dumpWriter{w: w, r: f.rep, conn: name, dir: '>'} }
		wrapOut = func(w io.Writer) io.Writer { return &dumpWriter{w: w, r: f.rep, conn: name, dir: '<'} }
	}
	if in.Info.Mode == protocol.ModeMirror {
		// The app in the target answers; the local answer is dropped.
		var w io.Writer = c
		if wrapIn != nil {
			w = wrapIn(c)
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
		n, err := io.Copy(w, in)
		_ = c.(*net.TCPConn).CloseWrite()
		f.incomingDone(name, start, n, 0, err)
		return
	}
	res := relay.Pipe(in, c, relay.Options{WrapAB: wrapIn, WrapBA: wrapOut})
	f.incomingDone(name, start, res.AB, res.BA, res.Err)
}

func (f *Forwarder) incomingDone(name string, start time.Time, in, out int64, err error) {
	status := "closed"
	if err != nil {
		status = "ended: " + err.Error()
	}
	f.rep.Connf("%s: %s after %s, %d bytes in, %d bytes out", name, status, time.Since(start).Round(time.Millisecond), in, out)
}

// localHTTP forwards stolen HTTP requests of one -R route to the local
// port, reusing connections.
type localHTTP struct {
	client *http.Client
	tr     *http.Transport
}

func (f *Forwarder) httpFor(r RemoteRoute) *localHTTP {
	f.httpMu.Lock()
	defer f.httpMu.Unlock()
	if h := f.httpClients[r.LocalPort]; h != nil {
		return h
	}
	tr := &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", f.deliverAddr(r))
		},
	}
	h := &localHTTP{tr: tr, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	f.httpClients[r.LocalPort] = h
	return h
}

func (f *Forwarder) closeHTTP() {
	f.httpMu.Lock()
	defer f.httpMu.Unlock()
	for _, h := range f.httpClients {
		h.tr.CloseIdleConnections()
	}
}

// serveStolenRequest answers one stolen HTTP request (filtered steal) with
// the local app's response.
func (f *Forwarder) serveStolenRequest(ctx context.Context, name string, r RemoteRoute, in *protocol.IncomingConn) {
	start := time.Now()
	req, err := in.ReadRequest()
	if err != nil {
		f.rep.Statusf("%s: read stolen request: %v", name, err)
		return
	}
	f.rep.Connf("%s: %s %s (Host %s)", name, req.Method, req.URL.RequestURI(), req.Host)
	req.RequestURI = ""
	req.URL.Scheme = "http"
	req.URL.Host = f.deliverAddr(r)
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // do not add Go's
	}
	if f.rep.Level() >= Data {
		var b strings.Builder
		_ = req.Header.Write(&b)
		f.rep.dump(name, '>', 0, []byte(req.Method+" "+req.URL.RequestURI()+"\r\n"+b.String()))
	}
	req = req.WithContext(ctx)
	resp, err := f.httpFor(r).client.Do(req)
	if err != nil {
		f.rep.Statusf("%s: deliver to %s: %v", name, f.deliverAddr(r), err)
		resp = &http.Response{StatusCode: http.StatusBadGateway, ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			Body:   io.NopCloser(strings.NewReader(fmt.Sprintf("mirrord port-forward: local port %d: %v\n", r.LocalPort, err))),
		}
		resp.ContentLength = -1
	}
	defer resp.Body.Close()
	bw := bufio.NewWriterSize(in.Stream, 32<<10)
	var w io.Writer = bw
	if f.rep.Level() >= Data {
		w = &dumpWriter{w: bw, r: f.rep, conn: name, dir: '<'}
	}
	if err := resp.Write(w); err == nil {
		err = bw.Flush()
		if err != nil {
			f.rep.Statusf("%s: send response: %v", name, err)
		}
	}
	_ = in.CloseWrite()
	f.rep.Connf("%s: %d after %s", name, resp.StatusCode, time.Since(start).Round(time.Microsecond))
}
