package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
)

// firstChunk is the buffer of the lazy first read.
const firstChunk = 32 << 10

// acceptLoop accepts the connections of the i-th -L route.
func (f *Forwarder) acceptLoop(ctx context.Context, i int) {
	defer f.wg.Done()
	ln, route := f.listeners[i], f.cfg.Routes.Local[i]
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: wait a little rather than spin.
			f.rep.Statusf("-L %s: accept: %v", ln.Addr(), err)
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			f.serveLocal(ctx, route, c)
		}()
	}
}

// serveLocal forwards one accepted -L connection: it waits for the first
// bytes, then resolves the host (cached per agent, see dests) and connects
// through the agent with those bytes on board.
func (f *Forwarder) serveLocal(ctx context.Context, route LocalRoute, c net.Conn) {
	id := f.connID.Add(1)
	name := fmt.Sprintf("#%d", id)
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	start := time.Now()
	// Lazy: nothing goes to the agent before the local side speaks.
	buf := make([]byte, firstChunk)
	n, rerr := c.Read(buf)
	if n == 0 {
		f.rep.Connf("-L %s %s from %s: closed before sending data", c.LocalAddr(), name, c.RemoteAddr())
		return
	}
	wctx, cancel := context.WithTimeout(ctx, f.cfg.AgentWait)
	defer cancel()
	client, where, err := f.slot.get(wctx)
	if err != nil {
		f.fail(c, "-L %s %s: %v", c.LocalAddr(), name, err)
		return
	}
	if f.cfg.Pods != nil && loopbackHost(route.Host) {
		if pod := f.slot.targetPod(); pod != nil && pod.Pod != nil {
			if f.serveDirect(wctx, cancel, route, c, buf[:n], rerr, pod, name, start) {
				return
			}
		}
	}
	// The first bytes travel with the connect request. A failed connect
	// on a cached address resolves the name again and tries once more.
	dest, cached, err := f.resolveDest(wctx, client, route)
	if err != nil {
		f.fail(c, "-L %s %s -> %s: %v", c.LocalAddr(), name, route.Dest(), err)
		return
	}
	remote, err := client.DialTCPSending(wctx, dest, buf[:n])
	if err != nil && cached {
		f.dests.forget(client, route.Host)
		if dest, _, err = f.resolveDest(wctx, client, route); err != nil {
			f.fail(c, "-L %s %s -> %s: %v", c.LocalAddr(), name, route.Dest(), err)
			return
		}
		remote, err = client.DialTCPSending(wctx, dest, buf[:n])
	}
	if err != nil {
		f.fail(c, "-L %s %s -> %s (%s): connect in %s: %v", c.LocalAddr(), name, route.Dest(), dest, where, err)
		return
	}
	cancel()
	f.rep.Connf("-L %s %s from %s -> %s (%s) via %s: connected in %s", c.LocalAddr(), name, c.RemoteAddr(), route.Dest(), dest, where, time.Since(start).Round(time.Microsecond))

	f.relayLocal(name, c, remote, buf[:n], rerr, start)
}

// relayLocal carries an -L connection whose first bytes (first) were
// already sent to remote; rerr is the error of the read that got them
// (io.EOF: the local side already ended its writes).
func (f *Forwarder) relayLocal(name string, c net.Conn, remote io.ReadWriteCloser, first []byte, rerr error, start time.Time) {
	var wrapOut, wrapIn func(io.Writer) io.Writer
	if f.rep.Level() >= Data {
		wrapOut = func(w io.Writer) io.Writer {
			return &dumpWriter{w: w, r: f.rep, conn: "-L " + name, dir: '>', off: int64(len(first))}
		}
		wrapIn = func(w io.Writer) io.Writer { return &dumpWriter{w: w, r: f.rep, conn: "-L " + name, dir: '<'} }
		f.rep.dump("-L "+name, '>', 0, first)
	}
	if rerr != nil {
		// Pass the end of the local writes on and only carry the answer.
		_ = relay.CloseWrite(remote)
		var w io.Writer = c
		if wrapIn != nil {
			w = wrapIn(c)
		}
		in, err := io.Copy(w, remote)
		remote.Close()
		f.connDone(name, c, int64(len(first)), in, err, start)
		return
	}
	res := relay.Pipe(c, remote, relay.Options{WrapAB: wrapOut, WrapBA: wrapIn})
	f.connDone(name, c, int64(len(first))+res.AB, res.BA, res.Err, start)
}

func (f *Forwarder) connDone(name string, c net.Conn, out, in int64, err error, start time.Time) {
	status := "closed"
	if err != nil {
		status = "ended: " + err.Error()
	}
	f.rep.Connf("-L %s %s: %s after %s, %d bytes out, %d bytes in", c.LocalAddr(), name, status, time.Since(start).Round(time.Millisecond), out, in)
}

// fail reports a connection that could not be forwarded and resets it, so
// the local client sees an error rather than an orderly end.
func (f *Forwarder) fail(c net.Conn, format string, a ...any) {
	f.rep.Statusf(format, a...)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// loopbackHost reports whether host names the loopback (of the target's
// pod, for an -L route).
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// serveDirect carries an -L connection to the target pod's own loopback
// through the kubelet's port-forward (Config.Pods). It reports false, with
// nothing sent, when that connection cannot be opened: the caller then
// goes through the agent.
func (f *Forwarder) serveDirect(ctx context.Context, cancel context.CancelFunc, route LocalRoute, c net.Conn, first []byte, rerr error, pod *resolve.Result, name string, start time.Time) bool {
	remote, err := f.cfg.Pods.DialPod(ctx, pod.Pod.Namespace, pod.Pod.Name, route.RemotePort)
	if err != nil {
		f.rep.Statusf("-L %s %s -> %s: port-forward to pod %s/%s: %v; going through the agent", c.LocalAddr(), name, route.Dest(), pod.Pod.Namespace, pod.Pod.Name, err)
		return false
	}
	cancel()
	f.rep.Connf("-L %s %s from %s -> %s via port-forward to pod %s/%s: connected in %s", c.LocalAddr(), name, c.RemoteAddr(), route.Dest(), pod.Pod.Namespace, pod.Pod.Name, time.Since(start).Round(time.Microsecond))
	if _, err := remote.Write(first); err != nil {
		remote.Close()
		f.fail(c, "-L %s %s: send to pod %s/%s: %v", c.LocalAddr(), name, pod.Pod.Namespace, pod.Pod.Name, err)
		return true
	}
	f.relayLocal(name, c, remote, first, rerr, start)
	return true
}
