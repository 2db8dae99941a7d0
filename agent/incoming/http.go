package incoming

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// maxMirrorBody bounds the request body buffered to copy it to filtered
// mirror clients; larger bodies are copied truncated.
const maxMirrorBody = 1 << 20

// DetectHTTP reads from br until it can tell whether the peer speaks
// HTTP/1.x: a request line "METHOD SP target SP HTTP/1.d". Nothing is
// consumed. HTTP/2 prior knowledge ("PRI * HTTP/2.0") counts as not HTTP/1.
func DetectHTTP(br *bufio.Reader) bool {
	for {
		buf, err := br.Peek(br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return IsRequestLine(buf[:i])
		}
		if !plausiblePrefix(buf) || br.Buffered() == br.Size() {
			return false
		}
		if err != nil {
			return false
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return false
		}
	}
}

// plausiblePrefix rejects early what cannot start a request line.
func plausiblePrefix(b []byte) bool {
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// IsRequestLine reports whether line (without '\n') is an HTTP/1.x request
// line.
func IsRequestLine(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte("\r"))
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(method) == 0 {
		return false
	}
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	i := bytes.LastIndexByte(rest, ' ')
	if i <= 0 {
		return false
	}
	version := rest[i+1:]
	return len(version) == 8 && bytes.HasPrefix(version, []byte("HTTP/1.")) && version[7] >= '0' && version[7] <= '9'
}

// serveHTTP serves a connection on a port with filters, request by request.
func (r *Redirector) serveHTTP(c *net.TCPConn, orig netip.AddrPort, hdr protocol.Incoming) {
	br := bufio.NewReaderSize(c, 16<<10)
	_ = c.SetReadDeadline(time.Now().Add(r.cfg.DetectTimeout))
	isHTTP := DetectHTTP(br)
	_ = c.SetReadDeadline(time.Time{})
	if !isHTTP {
		// Replay what detection read; the bufio.Reader may hold the
		// detection timeout as a sticky error, so read the rest from c.
		seen, _ := br.Peek(br.Buffered())
		in := io.MultiReader(bytes.NewReader(append([]byte(nil), seen...)), c)
		subs, _ := r.snapshot(orig.Port())
		r.passthrough(in, c, orig, r.openMirrors(unfiltered(subs.mirrors), hdr))
		return
	}
	s := &httpConn{r: r, c: c, br: br, orig: orig, hdr: hdr, mirrors: map[*subscription]*tap{}}
	defer s.close()
	s.loop()
}

func unfiltered(subs []*subscription) []*subscription {
	var out []*subscription
	for _, s := range subs {
		if s.filter == nil {
			out = append(out, s)
		}
	}
	return out
}

// httpConn is one peer connection served in HTTP mode.
type httpConn struct {
	r       *Redirector
	c       *net.TCPConn
	br      *bufio.Reader
	orig    netip.AddrPort
	hdr     protocol.Incoming
	up      *net.TCPConn // pass-through connection to the app, reused
	upBR    *bufio.Reader
	mirrors map[*subscription]*tap
}

func (s *httpConn) close() {
	if s.up != nil {
		s.r.untrack(s.up)
		s.up.Close()
	}
	for _, t := range s.mirrors {
		t.close()
	}
}

func (s *httpConn) loop() {
	for {
		req, err := http.ReadRequest(s.br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				writeStatus(s.c, http.StatusBadRequest)
			}
			return
		}
		if _, ok := req.Header["User-Agent"]; !ok {
			req.Header["User-Agent"] = []string{""} // keep Write from adding Go's
		}
		subs, ok := s.r.snapshot(s.orig.Port())
		if !ok {
			subs = portSubs{}
		}
		s.mirror(req, subs.mirrors)
		var target *subscription
		if subs.steal != nil {
			target = subs.steal
		} else {
			for _, f := range subs.filtered {
				if f.filter.Match(req) {
					target = f
					break
				}
			}
		}
		var keep bool
		if target != nil {
			keep = s.steal(req, target)
		} else {
			keep = s.pass(req)
		}
		if !keep {
			return
		}
	}
}

// mirror sends a copy of req to every matching mirror subscription, one
// stream per peer connection and mirror client.
func (s *httpConn) mirror(req *http.Request, mirrors []*subscription) {
	var buf bytes.Buffer
	for _, m := range mirrors {
		if m.filter != nil && !m.filter.Match(req) {
			continue
		}
		if buf.Len() == 0 {
			body, _ := io.ReadAll(io.LimitReader(req.Body, maxMirrorBody))
			rest := req.Body
			req.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), rest), rest}
			copyReq := *req
			copyReq.Body = io.NopCloser(bytes.NewReader(body))
			if int64(len(body)) < req.ContentLength {
				copyReq.ContentLength = int64(len(body))
			}
			_ = copyReq.Write(&buf)
		}
		t := s.mirrors[m]
		if t == nil {
			h := s.hdr
			h.Subscription, h.Mode, h.HTTP = m.id, protocol.ModeMirror, true
			st, err := m.client.OpenIncoming(s.r.ctx, h)
			if err != nil {
				continue
			}
			t = newTap(st, s.r.cfg.Log)
			s.mirrors[m] = t
		}
		t.send(buf.Bytes())
	}
}

// steal sends req to the client of sub and its response to the peer. It
// reports whether the peer connection may serve another request.
func (s *httpConn) steal(req *http.Request, sub *subscription) bool {
	h := s.hdr
	h.Subscription, h.Mode, h.HTTP = sub.id, protocol.ModeSteal, true
	st, err := sub.client.OpenIncoming(s.r.ctx, h)
	if err != nil {
		s.r.cfg.Log.Warn("open stolen request stream; passing through", "err", err)
		return s.pass(req)
	}
	if !s.r.track(st) {
		st.Close()
		return false
	}
	defer s.r.untrack(st)
	defer st.Close()
	wrote := make(chan error, 1)
	go func() { wrote <- req.Write(st) }()
	resp, err := http.ReadResponse(bufio.NewReader(st), req)
	if err != nil {
		s.r.cfg.Log.Warn("read stolen response", "err", err)
		writeStatus(s.c, http.StatusBadGateway)
		return false
	}
	defer resp.Body.Close()
	if err := resp.Write(s.c); err != nil {
		return false
	}
	st.Close()
	if err := <-wrote; err != nil {
		return false // the request body was not consumed: the stream is out of sync
	}
	return !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
}

// pass forwards req to the app and its response to the peer.
func (s *httpConn) pass(req *http.Request) bool {
	if s.up == nil {
		up, err := s.r.dialApp(s.orig)
		if err != nil {
			s.r.cfg.Log.Warn("pass through", "err", err)
			writeStatus(s.c, http.StatusBadGateway)
			return false
		}
		if !s.r.track(up) {
			up.Close()
			return false
		}
		s.up, s.upBR = up, bufio.NewReaderSize(up, 16<<10)
	}
	if err := req.Write(s.up); err != nil {
		writeStatus(s.c, http.StatusBadGateway)
		return false
	}
	resp, err := http.ReadResponse(s.upBR, req)
	if err != nil {
		writeStatus(s.c, http.StatusBadGateway)
		return false
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection becomes a raw byte stream between peer and app.
		if err := resp.Write(s.c); err != nil {
			return false
		}
		splice(s.br, s.c, s.upBR, s.up, nil)
		return false
	}
	err = resp.Write(s.c)
	resp.Body.Close()
	if err != nil {
		return false
	}
	if resp.Close {
		s.r.untrack(s.up)
		s.up.Close()
		s.up, s.upBR = nil, nil
	}
	return !req.Close
}

func writeStatus(w io.Writer, code int) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, http.StatusText(code))
}
