// Package textdoc keeps the text of an open document and converts between
// byte offsets and LSP positions: a line and a column counted in the
// position encoding negotiated with the client (UTF-16 code units, LSP's
// default, or UTF-8 bytes).
//
// A Doc is immutable: Apply returns a new Doc, so readers can keep a snapshot
// while edits arrive.
package textdoc

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Encoding is how the columns of positions are counted.
type Encoding int

const (
	// UTF16 counts UTF-16 code units (LSP's default, "utf-16").
	UTF16 Encoding = iota
	// UTF8 counts bytes ("utf-8").
	UTF8
)

// String is the encoding's LSP name.
func (e Encoding) String() string {
	if e == UTF8 {
		return "utf-8"
	}
	return "utf-16"
}

// Doc is one version of a document's text.
type Doc struct {
	text       string
	lineStarts []int // byte offset where each line starts; lineStarts[0] == 0
	enc        Encoding
}

// New returns a document holding text, with UTF-16 columns.
func New(text string) *Doc {
	return NewEncoded(text, UTF16)
}

// NewEncoded returns a document holding text whose positions count
// columns in enc.
func NewEncoded(text string, enc Encoding) *Doc {
	return &Doc{text: text, lineStarts: lineStarts(text), enc: enc}
}

// Encoding is how the document's columns are counted.
func (d *Doc) Encoding() Encoding { return d.enc }

// Text returns the whole text.
func (d *Doc) Text() string { return d.text }

// Lines returns the number of lines (a text without newlines has one).
func (d *Doc) Lines() int { return len(d.lineStarts) }

func lineStarts(text string) []int {
	starts := make([]int, 1, 1+strings.Count(text, "\n"))
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			starts = append(starts, i+1)
		case '\r': // LSP: a line ends at "\n", "\r\n" or a lone "\r"
			if i+1 < len(text) && text[i+1] == '\n' {
				continue
			}
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineEnd is the offset of the end of line (before its "\n" or "\r\n").
func (d *Doc) lineEnd(line int) int {
	end := len(d.text)
	if line+1 < len(d.lineStarts) {
		end = d.lineStarts[line+1] - 1 // the "\n" or lone "\r"
		if end > d.lineStarts[line] && d.text[end] == '\n' && d.text[end-1] == '\r' {
			end--
		}
	}
	return end
}

// Offset converts a position (line, column in the document's encoding) to
// a byte offset. As the LSP specification says, a column past the end of
// its line means the end of the line; a line past the end of the document
// means the end of the document. A column inside a character (a surrogate
// pair, or a multi-byte UTF-8 sequence) snaps to the character's start.
func (d *Doc) Offset(line, col int) (int, error) {
	if line < 0 || col < 0 {
		return 0, fmt.Errorf("position %d:%d is negative", line, col)
	}
	if line >= len(d.lineStarts) {
		return len(d.text), nil
	}
	start, end := d.lineStarts[line], d.lineEnd(line)
	if d.enc == UTF8 {
		off := min(start+col, end)
		for off > start && !utf8.RuneStart(d.text[off]) && off < end {
			off--
		}
		return off, nil
	}
	utf16Col := col
	units := 0
	for off := start; off < end; {
		if units >= utf16Col {
			return off, nil
		}
		r, size := utf8.DecodeRuneInString(d.text[off:end])
		n := 1
		if r >= 0x10000 {
			n = 2
		}
		if units+n > utf16Col {
			// Inside a surrogate pair: snap to the start of the rune.
			return off, nil
		}
		units += n
		off += size
	}
	return end, nil
}

// Position converts a byte offset to (line, column in the document's
// encoding). Offsets are clamped to the text.
func (d *Doc) Position(offset int) (line, col int) {
	if offset < 0 {
		offset = 0
	}
	if offset > len(d.text) {
		offset = len(d.text)
	}
	lo, hi := 0, len(d.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if d.lineStarts[mid] <= offset {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	line = lo
	if d.enc == UTF8 {
		return line, offset - d.lineStarts[line]
	}
	return line, UTF16Len(d.text[d.lineStarts[line]:offset])
}

// UTF16Len counts the UTF-16 code units of s (invalid bytes count one each).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// Edit replaces the text between two positions, or the whole text when
// Whole is set.
type Edit struct {
	Whole                bool
	StartLine, StartChar int
	EndLine, EndChar     int
	Text                 string
}

// ErrBadRange reports an edit whose end is before its start.
var ErrBadRange = errors.New("edit range ends before it starts")

// Apply returns the document after the edits, applied in order (each edit's
// positions refer to the text left by the previous one).
func (d *Doc) Apply(edits []Edit) (*Doc, error) {
	cur := d
	for i, e := range edits {
		if e.Whole {
			cur = NewEncoded(e.Text, d.enc)
			continue
		}
		start, err := cur.Offset(e.StartLine, e.StartChar)
		if err != nil {
			return nil, fmt.Errorf("edit %d start: %w", i, err)
		}
		end, err := cur.Offset(e.EndLine, e.EndChar)
		if err != nil {
			return nil, fmt.Errorf("edit %d end: %w", i, err)
		}
		if end < start {
			return nil, fmt.Errorf("edit %d (%d:%d-%d:%d): %w", i, e.StartLine, e.StartChar, e.EndLine, e.EndChar, ErrBadRange)
		}
		var b strings.Builder
		b.Grow(len(cur.text) - (end - start) + len(e.Text))
		b.WriteString(cur.text[:start])
		b.WriteString(e.Text)
		b.WriteString(cur.text[end:])
		cur = NewEncoded(b.String(), d.enc)
	}
	return cur, nil
}
