package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits of one message. A message is
//
//	u32 big-endian header length | header (JSON) | u32 big-endian data length | data
//
// The header is a small JSON object; the data is raw bytes (file contents,
// HTTP bodies) and may be empty.
const (
	// MaxHeaderSize bounds the JSON header of every message.
	MaxHeaderSize = 64 << 10
	// MaxDataSize bounds the data part of every message (a whole-file read).
	MaxDataSize = 16 << 20
	// MaxDatagramSize bounds one UDP datagram on a udp stream.
	MaxDatagramSize = 65535
)

// ErrTooLarge is returned when a message or datagram exceeds its limit.
var ErrTooLarge = errors.New("protocol: message too large")

// WriteMessage writes header (JSON-encoded) and data as one message. It
// issues a single Write so that concurrent writers on distinct streams never
// interleave and a message costs one mux frame when it fits.
func WriteMessage(w io.Writer, header any, data []byte) error {
	return writeMessage(w, header, data, nil)
}

// writeMessage writes the message and then raw, the first bytes of the
// stream's payload, in one write.
func writeMessage(w io.Writer, header any, data, raw []byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("encode message header: %w", err)
	}
	if len(h) > MaxHeaderSize {
		return fmt.Errorf("message header of %d bytes: %w", len(h), ErrTooLarge)
	}
	if len(data) > MaxDataSize {
		return fmt.Errorf("message data of %d bytes: %w", len(data), ErrTooLarge)
	}
	buf := make([]byte, 0, 8+len(h)+len(data)+len(raw))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(h)))
	buf = append(buf, h...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
	buf = append(buf, data...)
	buf = append(buf, raw...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// ReadMessage reads one message, decodes its header into header and returns
// its data. maxData bounds the data part (at most MaxDataSize). An empty
// stream gives io.EOF; a stream cut inside a message gives
// io.ErrUnexpectedEOF. Buffers grow as bytes arrive: a peer that declares a
// large message and sends little costs little.
func ReadMessage(r io.Reader, header any, maxData int) ([]byte, error) {
	return readMessage(r, header, MaxHeaderSize, maxData)
}

// readMessage is ReadMessage with a header limit of its own (at most
// MaxHeaderSize).
func readMessage(r io.Reader, header any, maxHeader, maxData int) ([]byte, error) {
	if maxData <= 0 || maxData > MaxDataSize {
		maxData = MaxDataSize
	}
	if maxHeader <= 0 || maxHeader > MaxHeaderSize {
		maxHeader = MaxHeaderSize
	}
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	hlen := binary.BigEndian.Uint32(lenBuf[:])
	if uint64(hlen) > uint64(maxHeader) {
		return nil, fmt.Errorf("message header length %d at offset 0 (limit %d): %w", hlen, maxHeader, ErrTooLarge)
	}
	h, err := readGrowing(r, int(hlen))
	if err != nil {
		return nil, unexpected(err)
	}
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, unexpected(err)
	}
	dlen := binary.BigEndian.Uint32(lenBuf[:])
	if uint64(dlen) > uint64(maxData) {
		return nil, fmt.Errorf("message data length %d at offset %d (limit %d): %w", dlen, 4+hlen, maxData, ErrTooLarge)
	}
	if err := json.Unmarshal(h, header); err != nil {
		return nil, fmt.Errorf("decode message header at offset 4: %w", err)
	}
	if dlen == 0 {
		return nil, nil
	}
	data, err := readGrowing(r, int(dlen))
	if err != nil {
		return nil, unexpected(err)
	}
	return data, nil
}

// readChunk is the most readGrowing allocates before any byte arrived.
const readChunk = 4 << 10

// readGrowing reads exactly n bytes from r into a buffer that grows (by
// doubling, from readChunk) as the bytes arrive, so that a declared length
// never costs memory the peer has not paid for with bytes. At any moment the
// buffer is at most twice the bytes read, or readChunk.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	if n <= readChunk {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf := make([]byte, readChunk)
	got := 0
	for {
		if _, err := io.ReadFull(r, buf[got:]); err != nil {
			if got > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		got = len(buf)
		if got == n {
			return buf, nil
		}
		next := make([]byte, min(n, 2*got))
		copy(next, buf)
		buf = next
	}
}

// WriteDatagram writes one length-prefixed datagram (u16 big-endian length).
func WriteDatagram(w io.Writer, p []byte) error {
	if len(p) > MaxDatagramSize {
		return fmt.Errorf("datagram of %d bytes: %w", len(p), ErrTooLarge)
	}
	buf := make([]byte, 2+len(p))
	binary.BigEndian.PutUint16(buf, uint16(len(p)))
	copy(buf[2:], p)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write datagram: %w", err)
	}
	return nil
}

// ReadDatagram reads one datagram written by WriteDatagram into buf, which
// must hold MaxDatagramSize bytes, and returns its length.
func ReadDatagram(r io.Reader, buf []byte) (int, error) {
	var lenBuf [2]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(lenBuf[:]))
	if n > len(buf) {
		return 0, fmt.Errorf("datagram of %d bytes into a %d-byte buffer: %w", n, len(buf), ErrTooLarge)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return 0, unexpected(err)
	}
	return n, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
