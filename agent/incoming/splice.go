package incoming

import (
	"github.com/mirrord-ls/mirrord-ls/internal/relay"
	"io"
	"log/slog"
	"sync"
)

// halfCloser is a writer whose write side can be closed alone.
type halfCloser interface {
	io.Writer
	CloseWrite() error
}

// splice copies peerIn -> other and otherIn -> peer until both directions
// end, half-closing each writer when its source ends, and tees what the
// peer sends into taps.
func splice(peerIn io.Reader, peer halfCloser, otherIn io.Reader, other halfCloser, taps []*tap) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = relay.Copy(peer, otherIn)
		_ = peer.CloseWrite()
	}()
	src := peerIn
	if len(taps) > 0 {
		src = io.TeeReader(peerIn, tapWriter(taps))
	}
	_, _ = relay.Copy(other, src)
	_ = other.CloseWrite()
	closeTaps(taps)
	wg.Wait()
}

// tapQueue is how many chunks a mirror client may lag behind before it is
// dropped: mirroring must never slow the real traffic down.
const tapQueue = 256

// tap feeds one mirror client's stream without blocking the real traffic.
type tap struct {
	st      Stream
	ch      chan []byte
	log     *slog.Logger
	mu      sync.Mutex
	dropped bool
	closed  bool
}

func newTap(st Stream, log *slog.Logger) *tap {
	t := &tap{st: st, ch: make(chan []byte, tapQueue), log: log}
	go t.run()
	return t
}

func (t *tap) run() {
	ok := true
	for b := range t.ch {
		if !ok {
			continue
		}
		if _, err := t.st.Write(b); err != nil {
			ok = false
		}
	}
	_ = t.st.CloseWrite()
	_ = t.st.Close()
}

func (t *tap) send(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped || t.closed {
		return
	}
	select {
	case t.ch <- append([]byte(nil), b...):
	default:
		t.dropped = true
		t.log.Warn("mirror client lags behind; its copy of the connection is cut")
		t.closed = true
		close(t.ch)
	}
}

func (t *tap) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
}

type tapWriter []*tap

func (w tapWriter) Write(p []byte) (int, error) {
	for _, t := range w {
		t.send(p)
	}
	return len(p), nil
}

func closeTaps(taps []*tap) {
	for _, t := range taps {
		t.close()
	}
}
