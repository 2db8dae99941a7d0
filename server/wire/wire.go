// Package wire is the LSP base protocol framing ("Content-Length: N\r\n\r\n"
// followed by N bytes of JSON) as a go.lsp.dev/jsonrpc2 Stream that survives
// bad input.
//
// jsonrpc2's own header stream ends the connection on the first malformed
// frame. An editor that sends one bad message should get an error answer and
// a server that keeps working, so this Stream:
//   - skips header lines it cannot parse and resynchronises on the next
//     header block;
//   - refuses bodies above a size limit (skipping their bytes);
//   - answers a body that is not JSON with a ParseError, and JSON that is not
//     a JSON-RPC message with an InvalidRequest (carrying the message's id
//     when it has one), then reads on.
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
	"strconv"
	"sync"

	"go.lsp.dev/jsonrpc2"
)

// DefaultMaxBody is the largest message body accepted (64 MiB).
const DefaultMaxBody = 64 << 20

// maxHeaderLine bounds one header line; longer lines are garbage.
const maxHeaderLine = 4096

// Stream implements jsonrpc2.Stream over a byte transport.
type Stream struct {
	in      *bufio.Reader
	out     io.Writer
	closer  io.Closer
	maxBody int
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
	return &Stream{in: bufio.NewReaderSize(r, 64<<10), out: w, closer: c, maxBody: DefaultMaxBody}
}

// SetMaxBody changes the body size limit.
func (s *Stream) SetMaxBody(n int) { s.maxBody = n }

// errBadHeader marks a recoverable framing error.
type errBadHeader struct{ msg string }

func (e errBadHeader) Error() string { return "bad message header: " + e.msg }

// Read returns the next well-formed JSON-RPC message. Malformed input is
// answered (when it was a message) or skipped, never returned as an error.
func (s *Stream) Read(ctx context.Context) (jsonrpc2.Message, int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		body, n, err := s.readFrame()
		if err != nil {
			var bad errBadHeader
			if errors.As(err, &bad) {
				s.report(err)
				continue
			}
			return nil, 0, err
		}
		msg, derr := jsonrpc2.DecodeMessage(body)
		if derr == nil {
			return msg, n, nil
		}
		s.report(fmt.Errorf("refused message of %d bytes: %w", len(body), derr))
		if werr := s.answerMalformed(ctx, body, derr); werr != nil {
			return nil, 0, werr
		}
	}
}

func (s *Stream) report(err error) {
	if s.OnBadInput != nil {
		s.OnBadInput(err)
	}
}

// answerMalformed writes the error response for a body that is no message.
func (s *Stream) answerMalformed(ctx context.Context, body []byte, derr error) error {
	code := jsonrpc2.InvalidRequest
	if !json.Valid(body) {
		code = jsonrpc2.ParseError
	}
	var probe struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	var id jsonrpc2.ID
	if code == jsonrpc2.InvalidRequest && json.Unmarshal(body, &probe) == nil {
		if probe.Method == nil && (probe.Result != nil || probe.Error != nil) {
			// A malformed response from the client: nothing to answer.
			return nil
		}
		id = parseID(probe.ID)
	}
	resp := jsonrpc2.NewResponse(id, nil, jsonrpc2.NewError(code, "malformed message: "+derr.Error()))
	_, err := s.Write(ctx, resp)
	return err
}

func parseID(raw json.RawMessage) jsonrpc2.ID {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return jsonrpc2.ID{}
	}
	var str string
	if raw[0] == '"' && json.Unmarshal(raw, &str) == nil {
		return jsonrpc2.NewStringID(str)
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return jsonrpc2.NewNumberID(n)
	}
	return jsonrpc2.ID{}
}

// readFrame reads one header block and its body.
func (s *Stream) readFrame() ([]byte, int64, error) {
	length := -1
	var consumed int64
	lines := 0
	for {
		line, err := s.readLine()
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
					continue // a stray blank line between messages
				}
				return nil, 0, errBadHeader{"no Content-Length"}
			}
			break
		}
		name, value, ok := bytes.Cut(trimmed, []byte(":"))
		if !ok {
			return nil, 0, errBadHeader{fmt.Sprintf("line %q has no colon", clip(trimmed))}
		}
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			continue // Content-Type and unknown fields are ignored
		}
		v := bytes.TrimSpace(value)
		n, perr := strconv.Atoi(string(v))
		if perr != nil || n <= 0 || len(v) > 12 {
			return nil, 0, errBadHeader{fmt.Sprintf("Content-Length %q", clip(v))}
		}
		length = n
	}
	if length > s.maxBody {
		if _, err := io.CopyN(io.Discard, s.in, int64(length)); err != nil {
			return nil, 0, fmt.Errorf("skipping an oversized body: %w", err)
		}
		return nil, 0, errBadHeader{fmt.Sprintf("body of %d bytes exceeds the limit of %d", length, s.maxBody)}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(s.in, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, fmt.Errorf("reading a %d-byte body: %w", length, err)
	}
	return body, consumed + int64(length), nil
}

// readLine reads one line including its "\n". A line longer than
// maxHeaderLine is consumed to its end and reported as a bad header.
func (s *Stream) readLine() ([]byte, error) {
	line, err := s.in.ReadSlice('\n')
	if err == nil {
		if len(line) > maxHeaderLine {
			return line, errBadHeader{"header line too long"}
		}
		return line, nil
	}
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxHeaderLine {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = s.in.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, errBadHeader{"header line too long"}
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		return line, io.ErrUnexpectedEOF
	}
	return line, err
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// Write frames msg and writes it in one write.
// The context is not consulted: a response must be written even when the
// request it answers was cancelled.
func (s *Stream) Write(_ context.Context, msg jsonrpc2.Message) (int64, error) {
	body, err := jsonrpc2.EncodeMessage(msg)
	if err != nil {
		return 0, fmt.Errorf("encoding a message: %w", err)
	}
	frame := make([]byte, 0, len(body)+32)
	frame = append(frame, "Content-Length: "...)
	frame = strconv.AppendInt(frame, int64(len(body)), 10)
	frame = append(frame, "\r\n\r\n"...)
	frame = append(frame, body...)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	n, err := s.out.Write(frame)
	if err != nil {
		return int64(n), fmt.Errorf("writing a message: %w", err)
	}
	return int64(n), nil
}

// Close closes the transport.
func (s *Stream) Close() error { return s.closer.Close() }
