package protocol

import (
	"encoding/binary"
	"io"
)

// yamux's send loop writes every frame as two writes: the 12-byte header,
// then the body. On a TCP socket the kernel may merge them; on the
// port-forward stream through the API server and the kubelet every write is
// a frame of its own at each hop, so a small message costs two frames (and
// two wake-ups) everywhere. coalescingConn holds the header of a data frame
// that carries a body and writes it together with that body, which the send
// loop (yamux's only writer) always writes next.
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
	// coalesceMax is the largest body copied behind its header. It covers
	// every frame yamux sends (no frame exceeds the stream window): copying
	// a relay buffer's worth (128 KiB, a few microseconds) costs less than
	// a 12-byte frame of its own through the API server, the kubelet and
	// the container runtime (BenchmarkForward: -L throughput).
	coalesceMax = streamWindow
)

type coalescingConn struct {
	io.ReadWriteCloser
	held    bool
	header  [yamuxHeaderSize]byte
	scratch []byte
}

func newCoalescingConn(c io.ReadWriteCloser) *coalescingConn {
	return &coalescingConn{ReadWriteCloser: c}
}

// Write is called only by yamux's send loop (one goroutine).
func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.held {
		c.held = false
		if len(p) > coalesceMax {
			if _, err := c.ReadWriteCloser.Write(c.header[:]); err != nil {
				return 0, err
			}
			return c.ReadWriteCloser.Write(p)
		}
		c.scratch = append(append(c.scratch[:0], c.header[:]...), p...)
		if _, err := c.ReadWriteCloser.Write(c.scratch); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:12]) > 0 {
		copy(c.header[:], p)
		c.held = true
		return len(p), nil
	}
	return c.ReadWriteCloser.Write(p)
}
