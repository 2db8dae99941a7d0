package supervisor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/fspolicy"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// ctlTimeout bounds one answer of the intproxy; as the C layer's, longer
// than any intproxy-side timeout (a subscription waits up to 30 s).
const ctlTimeout = 45 * time.Second

// ctlConn is one control connection to the intproxy, on behalf of one
// supervised process (it said hello on it).
type ctlConn struct {
	c   *net.UnixConn
	oob []byte
}

// dialIntproxy connects to addr as MIRRORD_LAYER_INTPROXY_ADDR names it:
// a path, unix:PATH, or @NAME for the abstract namespace.
func dialIntproxy(addr string) (*ctlConn, error) {
	addr = strings.TrimPrefix(addr, "unix:")
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("connect to the intproxy at %s: %w", addr, err)
	}
	return &ctlConn{c: c, oob: make([]byte, unix.CmsgSpace(4*4))}, nil
}

func (c *ctlConn) Close() error { return c.c.Close() }

// response is a decoded answer: status, body and maybe an fd (owned by
// the caller).
type response struct {
	status wire.Status
	body   []byte
	fd     int
}

// errno is the errno of a StatusErrno answer.
func (r *response) errno() unix.Errno {
	if len(r.body) < 4 {
		return unix.EIO
	}
	return unix.Errno(binary.LittleEndian.Uint32(r.body))
}

// call sends one request frame and reads the answer.
func (c *ctlConn) call(frame []byte) (response, error) {
	_ = c.c.SetDeadline(time.Now().Add(ctlTimeout))
	if _, err := c.c.Write(frame); err != nil {
		return response{fd: -1}, err
	}
	// The fd rides on the first byte of the frame: read the header with
	// the control message, then the rest.
	var hdr [4]byte
	got := 0
	fd := -1
	for got < 4 {
		n, oobn, _, _, err := c.c.ReadMsgUnix(hdr[got:], c.oob)
		if oobn > 0 {
			if f, ferr := oneFD(c.oob[:oobn]); ferr == nil {
				if fd >= 0 {
					_ = unix.Close(fd)
				}
				fd = f
			}
		}
		if err != nil {
			closeIf(fd)
			return response{fd: -1}, err
		}
		if n == 0 {
			closeIf(fd)
			return response{fd: -1}, io.ErrUnexpectedEOF
		}
		got += n
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size > wire.MaxFrame || size < 4 {
		closeIf(fd)
		return response{fd: -1}, fmt.Errorf("intproxy answer of %d bytes", size)
	}
	// the body outlives the call (the connection goes back to the pool)
	p := make([]byte, size)
	if _, err := io.ReadFull(c.c, p); err != nil {
		closeIf(fd)
		return response{fd: -1}, err
	}
	st, body, err := wire.ParseResponse(p)
	if err != nil {
		closeIf(fd)
		return response{fd: -1}, err
	}
	return response{status: st, body: body, fd: fd}, nil
}

func closeIf(fd int) {
	if fd >= 0 {
		_ = unix.Close(fd)
	}
}

// helloInfo is what the intproxy tells a process in its hello answer.
type helloInfo struct {
	flags uint32
	// rules are the fast path rules, their strings lowercased (the match
	// is case-insensitive).
	rules []fspolicy.Rule
}

var errBadAnswer = errors.New("malformed intproxy answer")

// parseHello decodes the hello answer body.
func parseHello(body []byte) (helloInfo, error) {
	var h helloInfo
	if len(body) < 6 {
		return h, errBadAnswer
	}
	h.flags = binary.LittleEndian.Uint32(body)
	n := int(binary.LittleEndian.Uint16(body[4:]))
	b := body[6:]
	for i := 0; i < n; i++ {
		if len(b) < 4 {
			return h, errBadAnswer
		}
		l := int(binary.LittleEndian.Uint16(b[2:]))
		if len(b) < 4+l {
			return h, errBadAnswer
		}
		h.rules = append(h.rules, fspolicy.Rule{Kind: b[0], Act: b[1], S: strings.ToLower(string(b[4 : 4+l]))})
		b = b[4+l:]
	}
	return h, nil
}
