// Package wire is the binary protocol between the C layer
// (layer/preload, libmirrord_layer.so) and the intproxy.
//
// Every message is a frame: a little-endian u32 length of what follows, then
// the payload. A request payload is u8 op, three zero bytes, and the op's
// body; a response payload is an i32 status and the status's body. A
// response may carry one file descriptor (SCM_RIGHTS) on its first byte.
// Strings and byte strings are a u16 length and the bytes. An address is
// u8 family (4, 6), u16 port and 16 address bytes (v4 in the first four).
//
// The layer and the intproxy ship together, so the protocol is not
// versioned; layer/preload/layer.h holds the C side's copy of the constants.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Op is a request kind.
type Op uint8

// Request ops.
const (
	OpHello     Op = 1
	OpOpen      Op = 2
	OpStat      Op = 3
	OpAccess    Op = 4
	OpReadLink  Op = 5
	OpDNS       Op = 6
	OpConnect   Op = 7
	OpBind      Op = 8
	OpListen    Op = 9
	OpUnlisten  Op = 10
	OpAccepted  Op = 11
	OpCloseFile Op = 12
	OpPath      Op = 13
)

// Path operations of OpPath.
const (
	PathMkdir  uint8 = 1
	PathUnlink uint8 = 2
	PathRmdir  uint8 = 3
	PathRename uint8 = 4
)

var opNames = map[Op]string{
	OpHello: "hello", OpOpen: "open", OpStat: "stat", OpAccess: "access", OpReadLink: "readlink",
	OpDNS: "dns", OpConnect: "connect", OpBind: "bind", OpListen: "listen", OpUnlisten: "unlisten",
	OpAccepted: "accepted", OpCloseFile: "close_file", OpPath: "path",
}

func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Status is a response kind.
type Status int32

// Response statuses.
const (
	StatusOK    Status = 0 // handled; body depends on the op
	StatusLocal Status = 1 // the layer does the real libc call
	StatusErrno Status = 2 // fail with the errno in the body
	StatusEAI   Status = 3 // getaddrinfo error code in the body
)

// Session flags in the HELLO answer.
const (
	FlagSkip            uint32 = 1 << 0 // leave this process alone
	FlagFS              uint32 = 1 << 1 // file hooks active (mode is not local)
	FlagFSFast          uint32 = 1 << 2 // the layer may apply the path rules itself
	FlagOutTCP          uint32 = 1 << 3
	FlagOutUDP          uint32 = 1 << 4
	FlagIgnoreLocalhost uint32 = 1 << 5
	FlagDNS             uint32 = 1 << 6
	FlagIncoming        uint32 = 1 << 7
	FlagUnixRemote      uint32 = 1 << 8
)

// Rule kinds and actions of the path rules in the HELLO answer.
const (
	RulePrefix   uint8 = 1
	RuleSuffix   uint8 = 2
	RuleContains uint8 = 3
	RuleExact    uint8 = 4

	ActLocal uint8 = 1
	ActAsk   uint8 = 2
)

// Address families and connect protocols.
const (
	FamUnix uint8 = 1
	FamV4   uint8 = 4
	FamV6   uint8 = 6

	ProtoTCP  uint8 = 1
	ProtoUDP  uint8 = 2
	ProtoUnix uint8 = 3
)

// MaxFrame bounds one frame; a layer request is a path at most.
const MaxFrame = 64 << 10

// Hello introduces a process (sent on every new control connection).
type Hello struct {
	PID, PPID uint32
	Name      string
	Cmdline   []string
	Cwd, Exe  string
	Home, Tmp string
}

// Open asks to open Path with open(2) Flags and Mode.
type Open struct {
	Flags, Mode uint32
	Path        string
}

// Stat asks for stat (Follow) or lstat of Path.
type Stat struct {
	Follow bool
	Path   string
}

// Access asks access(2) on Path.
type Access struct {
	Mode uint32
	Path string
}

// ReadLink asks readlink(2) on Path.
type ReadLink struct{ Path string }

// DNS asks to resolve Host; Family is 0 (any), FamV4 or FamV6.
type DNS struct {
	Family uint8
	Host   string
}

// Connect asks about an outgoing connection to Addr (tcp, udp) or Path (unix).
type Connect struct {
	Proto uint8
	Addr  netip.AddrPort
	Path  string
}

// Bind asks which local port a listener that wants Addr should bind.
type Bind struct{ Addr netip.AddrPort }

// Listen reports a listener: the port the app asked for and where it is.
type Listen struct {
	RequestedPort uint16
	Actual        netip.AddrPort
}

// Unlisten reports that the last fd of a subscribed listener closed.
type Unlisten struct{ RequestedPort, ActualPort uint16 }

// Accepted asks who really connected, for a connection the app accepted on
// the listener at ListenerPort from local port PeerPort.
type Accepted struct{ ListenerPort, PeerPort uint16 }

// CloseFile reports that the last fd of a remote file opened for writing
// closed.
type CloseFile struct{ Token uint64 }

// PathOp asks for mkdir (Mode), unlink, rmdir or rename (Path to NewPath).
type PathOp struct {
	Kind          uint8
	Mode          uint32
	Path, NewPath string
}

// Error is a malformed frame, with the offset of the problem.
type Error struct {
	Op     Op
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("layer request %s: at byte %d: %s", e.Op, e.Offset, e.Msg)
}

// ErrFrameTooLarge is returned for frames longer than MaxFrame.
var ErrFrameTooLarge = errors.New("layer frame too large")

// ReadFrame reads one frame's payload.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read layer frame: %w", io.ErrUnexpectedEOF)
	}
	return buf, nil
}

// reader decodes a body, remembering the first error.
type reader struct {
	op  Op
	b   []byte
	off int
	err error
}

func (r *reader) fail(n int) {
	if r.err == nil {
		r.err = &Error{Op: r.op, Offset: r.off, Msg: fmt.Sprintf("need %d bytes, have %d", n, len(r.b)-r.off)}
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.fail(n)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) bytes() []byte { return r.take(int(r.u16())) }

func (r *reader) str() string { return string(r.bytes()) }

func (r *reader) addr() netip.AddrPort {
	fam := r.u8()
	port := r.u16()
	ip := r.take(16)
	if r.err != nil {
		return netip.AddrPort{}
	}
	switch fam {
	case FamV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[:4])), port)
	case FamV6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip)), port)
	}
	if r.err == nil {
		r.err = &Error{Op: r.op, Offset: r.off - 19, Msg: fmt.Sprintf("address family %d: want 4 or 6", fam)}
	}
	return netip.AddrPort{}
}

func (r *reader) path() string {
	s := r.str()
	if r.err == nil && strings.IndexByte(s, 0) >= 0 {
		r.err = &Error{Op: r.op, Offset: r.off, Msg: "path contains a NUL byte"}
	}
	return s
}

// Decode parses a request payload into one of the request types.
func Decode(payload []byte) (any, error) {
	if len(payload) < 4 {
		return nil, &Error{Offset: 0, Msg: fmt.Sprintf("request header needs 4 bytes, have %d", len(payload))}
	}
	op := Op(payload[0])
	r := &reader{op: op, b: payload, off: 4}
	var v any
	switch op {
	case OpHello:
		h := Hello{PID: r.u32(), PPID: r.u32(), Name: r.str()}
		if raw := r.bytes(); len(raw) > 0 {
			h.Cmdline = strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
		}
		h.Cwd, h.Exe, h.Home, h.Tmp = r.str(), r.str(), r.str(), r.str()
		v = h
	case OpOpen:
		v = Open{Flags: r.u32(), Mode: r.u32(), Path: r.path()}
	case OpStat:
		v = Stat{Follow: r.u8() != 0, Path: r.path()}
	case OpAccess:
		v = Access{Mode: r.u32(), Path: r.path()}
	case OpReadLink:
		v = ReadLink{Path: r.path()}
	case OpDNS:
		v = DNS{Family: r.u8(), Host: r.str()}
	case OpConnect:
		c := Connect{Proto: r.u8()}
		switch c.Proto {
		case ProtoTCP, ProtoUDP:
			c.Addr = r.addr()
		case ProtoUnix:
			if fam := r.u8(); r.err == nil && fam != FamUnix {
				r.err = &Error{Op: op, Offset: r.off - 1, Msg: fmt.Sprintf("unix connect with family %d", fam)}
			}
			c.Path = r.path()
		default:
			r.err = &Error{Op: op, Offset: 4, Msg: fmt.Sprintf("protocol %d: want 1 (tcp), 2 (udp) or 3 (unix)", c.Proto)}
		}
		v = c
	case OpBind:
		v = Bind{Addr: r.addr()}
	case OpListen:
		v = Listen{RequestedPort: r.u16(), Actual: r.addr()}
	case OpUnlisten:
		v = Unlisten{RequestedPort: r.u16(), ActualPort: r.u16()}
	case OpAccepted:
		v = Accepted{ListenerPort: r.u16(), PeerPort: r.u16()}
	case OpCloseFile:
		var t [8]byte
		copy(t[:], r.take(8))
		v = CloseFile{Token: binary.LittleEndian.Uint64(t[:])}
	case OpPath:
		po := PathOp{Kind: r.u8(), Mode: r.u32(), Path: r.path(), NewPath: r.path()}
		if r.err == nil && (po.Kind < PathMkdir || po.Kind > PathRename) {
			r.err = &Error{Op: op, Offset: 4, Msg: fmt.Sprintf("path operation %d: want 1-4", po.Kind)}
		}
		v = po
	default:
		return nil, &Error{Op: op, Offset: 0, Msg: "unknown op"}
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(payload) {
		return nil, &Error{Op: op, Offset: r.off, Msg: fmt.Sprintf("%d trailing bytes", len(payload)-r.off)}
	}
	return v, nil
}

// Builder encodes a frame (request or response).
type Builder struct{ b []byte }

// NewResponse starts a response frame with status s.
func NewResponse(s Status) *Builder {
	b := &Builder{b: make([]byte, 4, 64)}
	return b.U32(uint32(s))
}

// NewRequest starts a request frame (used by tests and tools that play the
// layer).
func NewRequest(op Op) *Builder {
	b := &Builder{b: make([]byte, 4, 64)}
	return b.U8(uint8(op)).U8(0).U8(0).U8(0)
}

// U8 appends a byte.
func (b *Builder) U8(v uint8) *Builder { b.b = append(b.b, v); return b }

// U16 appends a little-endian u16.
func (b *Builder) U16(v uint16) *Builder { b.b = binary.LittleEndian.AppendUint16(b.b, v); return b }

// U32 appends a little-endian u32.
func (b *Builder) U32(v uint32) *Builder { b.b = binary.LittleEndian.AppendUint32(b.b, v); return b }

// U64 appends a little-endian u64.
func (b *Builder) U64(v uint64) *Builder { b.b = binary.LittleEndian.AppendUint64(b.b, v); return b }

// I64 appends a little-endian i64.
func (b *Builder) I64(v int64) *Builder { return b.U64(uint64(v)) }

// Str appends a u16-length string, cut to 65535 bytes.
func (b *Builder) Str(s string) *Builder {
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	b.U16(uint16(len(s)))
	b.b = append(b.b, s...)
	return b
}

// Addr appends an address.
func (b *Builder) Addr(a netip.AddrPort) *Builder {
	ip := a.Addr()
	var raw [16]byte
	fam := FamV6
	if ip.Is4() || ip.Is4In6() {
		fam = FamV4
		v4 := ip.Unmap().As4()
		copy(raw[:], v4[:])
	} else if ip.IsValid() {
		raw = ip.As16()
	}
	return b.U8(fam).U16(a.Port()).Bytes(raw[:])
}

// Bytes appends raw bytes (no length).
func (b *Builder) Bytes(p []byte) *Builder { b.b = append(b.b, p...); return b }

// Frame returns the finished frame with its length.
func (b *Builder) Frame() []byte {
	binary.LittleEndian.PutUint32(b.b, uint32(len(b.b)-4))
	return b.b
}

// ParseResponse splits a response payload (tests, tools).
func ParseResponse(payload []byte) (Status, []byte, error) {
	if len(payload) < 4 {
		return 0, nil, fmt.Errorf("layer response: need 4 bytes, have %d", len(payload))
	}
	return Status(int32(binary.LittleEndian.Uint32(payload))), payload[4:], nil
}
