// Package wire is the LSP base protocol framing ("Content-Length: N\r\n\r\n"
// followed by N bytes of JSON) as a go.lsp.dev/jsonrpc2 Stream that survives
// bad input.
//
// jsonrpc2's own header stream (jsonrpc2.NewStream) ends the connection on
// the first malformed frame, and its message decoder accepts things that are
// not JSON-RPC 2.0 (trailing bytes after the object, a missing or wrong
// "jsonrpc" member, a "method" next to a "result"). An editor that sends one
// bad message should get an error answer and a server that keeps working,
// so this Stream:
//   - after a header it cannot parse, a declared length above DefaultMaxBody,
//     or a body that is not JSON (a Content-Length that was wrong, e.g.
//     counted in characters instead of bytes), resynchronises: it scans the
//     input for the next "Content-Length:" — wherever it starts, also in the
//     middle of a line or inside the bytes of the body that failed — and
//     reads on from there;
//   - never allocates a declared length up front: a body is read
//     incrementally, so a frame that claims 2^63 bytes costs nothing;
//   - answers a body that is not JSON with a ParseError, and JSON that is not
//     a JSON-RPC 2.0 message with an InvalidRequest (carrying the message's
//     id when it has one), then reads on.
//
// Only a failure of the underlying reader (EOF, closed pipe) ends Read.
package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"go.lsp.dev/jsonrpc2"
)

// DefaultMaxBody is the largest message body accepted (64 MiB). A frame
// declaring more is refused without reading its body: the reader
// resynchronises on the next "Content-Length:" header.
const DefaultMaxBody = 64 << 20

// maxHeaderLine bounds one header line; longer lines are garbage.
const maxHeaderLine = 4096

// headerName is what resynchronisation looks for, compared
// case-insensitively (the lower-case form).
const headerName = "content-length:"

// FrameError is a malformed header block or a refused body. The reader has
// already moved past it: the next call resynchronises on the next header.
type FrameError struct{ msg string }

func (e *FrameError) Error() string { return "bad message frame: " + e.msg }

// FrameReader reads the bodies of LSP frames.
type FrameReader struct {
	in      *bufio.Reader
	maxBody int
	// pending holds bytes given back by Resync; they are read before in.
	pending []byte
	// resync: the next Next first scans for headerName.
	resync bool
	// found: a scan consumed headerName, so the first header line starts
	// with it.
	found bool
	line  []byte
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{in: bufio.NewReaderSize(r, 64<<10), maxBody: DefaultMaxBody}
}

// SetMaxBody changes the body size limit.
func (f *FrameReader) SetMaxBody(n int) { f.maxBody = n }

// Resync tells the reader that body, the last body Next returned, was not a
// message: its Content-Length was probably wrong. The next Next scans for
// the next "Content-Length:" header, starting inside body (a declared length
// that was too long swallowed the start of the next frame) and going on in
// the input (one that was too short left the end of the body there).
func (f *FrameReader) Resync(body []byte) {
	f.resync = true
	lower := lowerASCII(body)
	var tail []byte
	if i := bytes.Index(lower, []byte(headerName)); i >= 0 {
		tail = body[i:]
	} else {
		// The longest end of body that is a beginning of the header name.
		for k := min(len(headerName)-1, len(body)); k > 0; k-- {
			if bytes.HasPrefix([]byte(headerName), lower[len(lower)-k:]) {
				tail = body[len(body)-k:]
				break
			}
		}
	}
	if len(tail) > 0 {
		f.pending = append(append(make([]byte, 0, len(tail)+len(f.pending)), tail...), f.pending...)
	}
}

// lowerASCII is b with ASCII letters in lower case and every other byte as
// it is, so indexes into it are indexes into b (bytes.ToLower may change
// the length of non-ASCII text).
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func (f *FrameReader) readByte() (byte, error) {
	if len(f.pending) > 0 {
		b := f.pending[0]
		f.pending = f.pending[1:]
		return b, nil
	}
	return f.in.ReadByte()
}

// scan consumes the input up to and including the next "Content-Length:"
// (any case). It holds nothing but a counter, whatever it skips.
func (f *FrameReader) scan() (int64, error) {
	var skipped int64
	matched := 0
	for matched < len(headerName) {
		b, err := f.readByte()
		if err != nil {
			return skipped, err
		}
		skipped++
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		switch {
		case b == headerName[matched]:
			matched++
		case b == headerName[0]: // 'c' occurs once in the name
			matched = 1
		default:
			matched = 0
		}
	}
	f.found = true
	return skipped, nil
}

// Next reads one header block and its body, returning the body and the
// number of bytes consumed. A *FrameError reports a frame that was skipped;
// any other error comes from the underlying reader and is final.
func (f *FrameReader) Next() ([]byte, int64, error) {
	var consumed int64
	if f.resync {
		n, err := f.scan()
		consumed += n
		if err != nil {
			return nil, 0, err
		}
		f.resync = false
	}
	body, n, err := f.next()
	var bad *FrameError
	if errors.As(err, &bad) {
		f.resync = true
	}
	return body, consumed + n, err
}

func (f *FrameReader) next() ([]byte, int64, error) {
	length := -1
	var consumed int64
	lines := 0
	for {
		line, err := f.readLine()
		consumed += int64(len(line))
		if err != nil {
			if errors.Is(err, io.EOF) && lines > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		lines++
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			if length < 0 {
				if lines == 1 {
					lines = 0
					continue // a stray blank line between messages
				}
				return nil, 0, &FrameError{"no Content-Length"}
			}
			break
		}
		if i := bytes.Index(lowerASCII(trimmed), []byte(headerName)); i > 0 {
			// Garbage before a header on the same line (the end of a body
			// whose length was declared too short): the header counts.
			trimmed = trimmed[i:]
		}
		name, value, ok := bytes.Cut(trimmed, []byte(":"))
		if !ok {
			return nil, 0, &FrameError{fmt.Sprintf("header line %q has no colon", clip(trimmed))}
		}
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			continue // Content-Type and unknown fields are ignored
		}
		n, ferr := parseLength(bytes.TrimSpace(value), f.maxBody)
		if ferr != nil {
			return nil, 0, ferr
		}
		length = n
	}
	// Read incrementally: the buffer grows with what arrives, not with
	// what was declared (at most 1 MiB is reserved before bytes come).
	var body bytes.Buffer
	body.Grow(min(length, 1<<20))
	if k := min(len(f.pending), length); k > 0 {
		body.Write(f.pending[:k])
		f.pending = f.pending[k:]
	}
	if rest := int64(length - body.Len()); rest > 0 {
		if _, err := io.CopyN(&body, f.in, rest); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, fmt.Errorf("reading a %d-byte body: %w", length, err)
		}
	}
	return body.Bytes(), consumed + int64(length), nil
}

// parseLength checks a Content-Length value: a positive decimal number of
// at most maxBody.
func parseLength(v []byte, maxBody int) (int, *FrameError) {
	if len(v) == 0 || len(v) > 20 {
		return 0, &FrameError{fmt.Sprintf("Content-Length %q is not a length", clip(v))}
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		var num *strconv.NumError
		if errors.As(err, &num) && errors.Is(num.Err, strconv.ErrRange) {
			return 0, &FrameError{fmt.Sprintf("declared length %s exceeds the limit of %d bytes; body not read, resynchronising on the next header", v, maxBody)}
		}
		return 0, &FrameError{fmt.Sprintf("Content-Length %q is not a length", clip(v))}
	}
	if n == 0 {
		return 0, &FrameError{"Content-Length 0: an empty body is no message"}
	}
	if n > uint64(maxBody) {
		return 0, &FrameError{fmt.Sprintf("declared length %d exceeds the limit of %d bytes; body not read, resynchronising on the next header", n, maxBody)}
	}
	return int(n), nil
}

// readLine reads one header line including its "\n". A line longer than
// maxHeaderLine is a FrameError; the rest of it is left to the scan that
// follows (which finds a header even at its end).
func (f *FrameReader) readLine() ([]byte, error) {
	f.line = f.line[:0]
	if f.found {
		f.found = false
		f.line = append(f.line, "Content-Length:"...)
	}
	for {
		b, err := f.readByte()
		if err != nil {
			if errors.Is(err, io.EOF) && len(f.line) > 0 {
				return f.line, io.ErrUnexpectedEOF
			}
			return f.line, err
		}
		f.line = append(f.line, b)
		if b == '\n' {
			return f.line, nil
		}
		if len(f.line) > maxHeaderLine {
			return f.line, &FrameError{"header line too long"}
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// Stream implements jsonrpc2.Stream over a byte transport.
type Stream struct {
	frames *FrameReader
	out    io.Writer
	closer io.Closer
	// OnBadInput, when set, is told about every skipped header or refused
	// message (for logging). It runs on the read goroutine.
	OnBadInput func(err error)

	writeMu sync.Mutex
}

var _ jsonrpc2.Stream = (*Stream)(nil)

// New returns a Stream reading and writing rwc, which it closes on Close.
func New(rwc io.ReadWriteCloser) *Stream {
	return NewSplit(rwc, rwc, rwc)
}

// NewSplit returns a Stream over separate reader, writer and closer (stdin,
// stdout and a closer for both).
func NewSplit(r io.Reader, w io.Writer, c io.Closer) *Stream {
	return &Stream{frames: NewFrameReader(r), out: w, closer: c}
}

// SetMaxBody changes the body size limit.
func (s *Stream) SetMaxBody(n int) { s.frames.SetMaxBody(n) }

// Read returns the next well-formed JSON-RPC message. Malformed input is
// answered (when it was a message) or skipped, never returned as an error.
func (s *Stream) Read(ctx context.Context) (jsonrpc2.Message, int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		body, n, err := s.frames.Next()
		if err != nil {
			var bad *FrameError
			if errors.As(err, &bad) {
				s.report(err)
				continue
			}
			return nil, 0, err
		}
		msg, bad := Decode(body)
		if bad == nil {
			return msg, n, nil
		}
		s.report(fmt.Errorf("refused message of %d bytes: %w", len(body), bad))
		if bad.Code == jsonrpc2.ParseError {
			// Not JSON: most likely a wrong Content-Length, so the next
			// frame does not start where this one said it ends.
			s.frames.Resync(body)
		}
		if bad.answer {
			if werr := s.writeBody(bad.response()); werr != nil {
				return nil, 0, werr
			}
		}
	}
}

func (s *Stream) report(err error) {
	if s.OnBadInput != nil {
		s.OnBadInput(err)
	}
}

// BadMessage is a body that is not a JSON-RPC 2.0 message.
type BadMessage struct {
	// Code is ParseError (not JSON) or InvalidRequest.
	Code jsonrpc2.Code
	// ID is the message's id as sent ("null" when it had none usable).
	ID     json.RawMessage
	reason string
	// answer is false for a malformed response from the client: there is
	// nothing to answer.
	answer bool
}

func (b *BadMessage) Error() string { return b.reason }

// response is the error answer to a bad message.
func (b *BadMessage) response() []byte {
	out, err := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonrpc2.Error  `json:"error"`
	}{jsonrpc2.Version, b.ID, jsonrpc2.Error{Code: b.Code, Message: "malformed message: " + b.reason}})
	if err != nil {
		// Unreachable: the id was checked to be a JSON string or integer.
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"malformed message"}}`)
	}
	return out
}

var null = json.RawMessage("null")

// Decode checks that body is one JSON-RPC 2.0 message and decodes it. The
// rules: a "method" (a string) without "result" or "error" is a request, a
// call when "id" is present and not null; an object without "method" is a
// response with exactly one of "result" and "error"; "jsonrpc" is "2.0".
// Ids are non-empty strings or integers in the int32 range (LSP's integer;
// jsonrpc2.ID holds no more).
//
// A bad message is answered with the id it carried (when that id is a
// string or an integer), except a malformed response, which has no one to
// answer.
func Decode(body []byte) (jsonrpc2.Message, *BadMessage) {
	// Only the members that decide the message's kind are read; params is
	// skipped, not copied. (Like jsonrpc2's own decoder, member names match
	// case-insensitively.)
	var members struct {
		JSONRPC json.RawMessage `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  json.RawMessage `json:"method"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &members); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, &BadMessage{Code: jsonrpc2.ParseError, ID: null, reason: "the body is not JSON: " + err.Error(), answer: true}
		}
		reason := "not a JSON object"
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
			reason = "a batch: LSP does not use batches"
		}
		return nil, &BadMessage{Code: jsonrpc2.InvalidRequest, ID: null, reason: reason, answer: true}
	}
	id, hasID := members.ID, members.ID != nil
	method, hasMethod := members.Method, members.Method != nil
	hasResult := members.Result != nil
	errObj, hasError := members.Error, members.Error != nil
	answerID := null
	if hasID && (isJSONString(id) || isJSONInteger(id)) {
		answerID = id
	}
	isResponse := !hasMethod && (hasResult || hasError)
	invalid := func(reason string) *BadMessage {
		return &BadMessage{Code: jsonrpc2.InvalidRequest, ID: answerID, reason: reason, answer: !isResponse}
	}
	switch {
	case hasMethod && (hasResult || hasError):
		return nil, invalid(`"method" next to "result" or "error"`)
	case !bytes.Equal(members.JSONRPC, []byte(`"2.0"`)):
		return nil, invalid(`"jsonrpc" is not "2.0"`)
	case hasID && !bytes.Equal(id, null) && !validID(id):
		return nil, invalid("the id is not a non-empty string or an integer in the int32 range")
	case hasMethod:
		var name string
		if json.Unmarshal(method, &name) != nil || name == "" {
			return nil, invalid(`"method" is not a non-empty string`)
		}
	case hasResult == hasError:
		return nil, invalid(`a response needs exactly one of "result" and "error"`)
	case hasError:
		var e jsonrpc2.Error
		if bytes.Equal(errObj, null) || json.Unmarshal(errObj, &e) != nil {
			return nil, invalid(`"error" is not an error object`)
		}
	}
	msg, err := jsonrpc2.DecodeMessage(body)
	if err != nil {
		return nil, invalid(err.Error())
	}
	return msg, nil
}

func isJSONString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }

func isJSONInteger(raw json.RawMessage) bool {
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}

// validID reports whether raw is an id jsonrpc2.ID can hold: a non-empty
// string (the empty string would read back as the number 0) or an integer
// in the int32 range.
func validID(raw json.RawMessage) bool {
	if isJSONString(raw) {
		var s string
		return json.Unmarshal(raw, &s) == nil && s != ""
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil && n >= math.MinInt32 && n <= math.MaxInt32
}

// WriteError is a failure of the underlying writer. Any other error from
// Write means nothing was written.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "writing a message: " + e.Err.Error() }

func (e *WriteError) Unwrap() error { return e.Err }

// Write frames msg and writes it in one write.
// The context is not consulted: a response must be written even when the
// request it answers was cancelled.
func (s *Stream) Write(_ context.Context, msg jsonrpc2.Message) (int64, error) {
	frame, err := appendFrame(make([]byte, 0, 512), msg)
	if err != nil {
		return 0, err
	}
	return s.writeFrame(frame)
}

func (s *Stream) writeBody(body []byte) error {
	frame := make([]byte, 0, len(body)+32)
	frame = appendHeader(frame, len(body))
	frame = append(frame, body...)
	_, err := s.writeFrame(frame)
	return err
}

func (s *Stream) writeFrame(frame []byte) (int64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	n, err := s.out.Write(frame)
	if err != nil {
		return int64(n), &WriteError{err}
	}
	return int64(n), nil
}

func appendHeader(frame []byte, n int) []byte {
	frame = append(frame, "Content-Length: "...)
	frame = strconv.AppendInt(frame, int64(n), 10)
	return append(frame, "\r\n\r\n"...)
}

// appendFrame appends the frame of msg. The message's params or result
// were encoded when it was made (jsonrpc2.NewCall, NewNotification,
// NewResponse), so they are copied as they are rather than encoded again
// as the messages' own MarshalJSON would.
func appendFrame(frame []byte, msg jsonrpc2.Message) ([]byte, error) {
	body := make([]byte, 0, 256)
	body = append(body, `{"jsonrpc":"2.0"`...)
	var id jsonrpc2.ID
	var method string
	var params json.RawMessage
	switch m := msg.(type) {
	case *jsonrpc2.Call:
		id, method, params = m.ID(), m.Method(), m.Params()
	case *jsonrpc2.Notification:
		method, params = m.Method(), m.Params()
	case *jsonrpc2.Response:
		id = m.ID()
	default:
		return nil, fmt.Errorf("encoding a message: %T is not a jsonrpc2 message", msg)
	}
	if _, isNote := msg.(*jsonrpc2.Notification); !isNote {
		raw, err := id.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding the id %v: %w", id, err)
		}
		body = append(body, `,"id":`...)
		body = append(body, raw...)
	}
	if r, ok := msg.(*jsonrpc2.Response); ok {
		if rerr := r.Err(); rerr != nil {
			var werr *jsonrpc2.Error
			if !errors.As(rerr, &werr) {
				werr = &jsonrpc2.Error{Code: jsonrpc2.InternalError, Message: rerr.Error()}
			}
			raw, err := json.Marshal(werr)
			if err != nil {
				return nil, fmt.Errorf("encoding an error answer: %w", err)
			}
			body = append(body, `,"error":`...)
			body = append(body, raw...)
		} else {
			body = append(body, `,"result":`...)
			body = appendRaw(body, r.Result())
		}
	} else {
		name, err := json.Marshal(method)
		if err != nil {
			return nil, fmt.Errorf("encoding the method name: %w", err)
		}
		body = append(body, `,"method":`...)
		body = append(body, name...)
		if len(params) > 0 {
			body = append(body, `,"params":`...)
			body = append(body, params...)
		}
	}
	body = append(body, '}')
	frame = appendHeader(frame, len(body))
	return append(frame, body...), nil
}

// appendRaw appends a result: JSON as encoded, or null when there is none.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// Close closes the transport.
func (s *Stream) Close() error { return s.closer.Close() }
