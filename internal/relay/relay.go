// Package relay moves bytes between two connections: the data path of the
// agent's outgoing streams, the intproxy's interceptors and port-forward.
//
// It copies with pooled 128 KiB buffers instead of io.Copy's 32 KiB, so a
// busy connection crosses the stream multiplexer in fewer, larger frames
// (port-forward measured about +10% throughput), and it passes a clean end
// of one direction on as a half-close so request/response protocols that
// close their write side first keep working.
package relay

import (
	"errors"
	"io"
	"net"
	"sync"
)

// BufferSize is the copy buffer of each direction.
const BufferSize = 128 << 10

// buffers is a concurrency-safe free list, not shared state: a buffer is
// owned by one copy at a time.
var buffers = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// Copy is io.Copy with a pooled BufferSize buffer. It hides ReaderFrom and
// WriterTo, whose generic fallbacks would use 32 KiB.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}

// halfCloser is a connection whose write side can end alone (TCP, unix
// sockets, agent streams).
type halfCloser interface {
	CloseWrite() error
}

// CloseWrite ends c's write side, or closes c when it cannot half-close.
func CloseWrite(c io.Closer) error {
	if hc, ok := c.(halfCloser); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

// Options of Pipe.
type Options struct {
	// WrapAB and WrapBA, when set, wrap the destination of the a→b and b→a
	// directions (data dumps, taps).
	WrapAB, WrapBA func(io.Writer) io.Writer
}

// Result of Pipe: bytes moved each way and the first error, if any.
type Result struct {
	AB, BA int64
	Err    error
}

// Pipe copies a→b and b→a until both directions have ended. A clean end of
// one direction is passed on as a half-close; an error in either direction
// closes both connections at once, so the other direction stops too. Both
// are closed on return. Errors caused by that closing (net.ErrClosed) are
// not reported.
func Pipe(a, b io.ReadWriteCloser, o Options) Result {
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		res      Result
	)
	abort := func(err error) {
		once.Do(func() {
			firstErr = err
			a.Close()
			b.Close()
		})
	}
	direction := func(dst, src io.ReadWriteCloser, wrap func(io.Writer) io.Writer, n *int64) {
		defer wg.Done()
		var w io.Writer = dst
		if wrap != nil {
			w = wrap(dst)
		}
		c, err := Copy(w, src)
		*n = c
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				abort(err)
			}
			return
		}
		_ = CloseWrite(dst)
	}
	wg.Add(2)
	go direction(b, a, o.WrapAB, &res.AB)
	go direction(a, b, o.WrapBA, &res.BA)
	wg.Wait()
	a.Close()
	b.Close()
	res.Err = firstErr
	return res
}
