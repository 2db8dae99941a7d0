package portforward

import (
	"errors"
	"io"
	"net"
	"sync"
)

// closeWriter is a connection with a write-side half-close (TCP, unix
// sockets, agent streams).
type closeWriter interface {
	CloseWrite() error
}

func closeWrite(c io.Closer) {
	if cw, ok := c.(closeWriter); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// relay copies a→b and b→a until both directions have ended. The end of
// one direction (EOF) is passed on as a half-close, so request/response
// protocols that close their write side first keep working; an error in
// either direction closes both connections. Both are closed on return.
// dumpAB/dumpBA, when not nil, wrap the destinations to dump the data.
func relay(a, b net.Conn, wrapAB, wrapBA func(io.Writer) io.Writer) (ab, ba int64, err error) {
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	abort := func(e error) {
		once.Do(func() {
			firstErr = e
			a.Close()
			b.Close()
		})
	}
	copyDir := func(dst, src net.Conn, wrap func(io.Writer) io.Writer, n *int64) {
		defer wg.Done()
		var w io.Writer = dst
		if wrap != nil {
			w = wrap(dst)
		}
		c, e := copyBuffered(w, src)
		*n = c
		if e != nil && !errors.Is(e, net.ErrClosed) {
			abort(e)
			return
		}
		closeWrite(dst)
	}
	wg.Add(2)
	go copyDir(b, a, wrapAB, &ab)
	go copyDir(a, b, wrapBA, &ba)
	wg.Wait()
	a.Close()
	b.Close()
	return ab, ba, firstErr
}

// copyBufSize is the relay buffer: larger than io.Copy's 32 KiB so a busy
// connection moves in fewer, larger multiplexer frames (measured with
// BenchmarkForward), small enough for thousands of connections.
const copyBufSize = 128 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyBuffered is io.Copy with a pooled copyBufSize buffer. It hides
// ReaderFrom/WriterTo, whose generic fallbacks would use 32 KiB.
func copyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}
