// Package textdoc keeps the text of an open document and converts between
// byte offsets and LSP positions (line, UTF-16 code unit).
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

// Doc is one version of a document's text.
type Doc struct {
	text       string
	lineStarts []int // byte offset where each line starts; lineStarts[0] == 0
}

// New returns a document holding text.
func New(text string) *Doc {
	return &Doc{text: text, lineStarts: lineStarts(text)}
}

// Text returns the whole text.
func (d *Doc) Text() string { return d.text }

// Lines returns the number of lines (a text without newlines has one).
func (d *Doc) Lines() int { return len(d.lineStarts) }

func lineStarts(text string) []int {
	starts := make([]int, 1, 1+strings.Count(text, "\n"))
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineEnd is the offset of the end of line (before its "\n" or "\r\n").
func (d *Doc) lineEnd(line int) int {
	end := len(d.text)
	if line+1 < len(d.lineStarts) {
		end = d.lineStarts[line+1] - 1
		if end > d.lineStarts[line] && d.text[end-1] == '\r' {
			end--
		}
	}
	return end
}

// Offset converts a position (line, UTF-16 column) to a byte offset. As the
// LSP specification says, a column past the end of its line means the end
// of the line; a line past the end of the document means the end of the
// document.
func (d *Doc) Offset(line, utf16Col int) (int, error) {
	if line < 0 || utf16Col < 0 {
		return 0, fmt.Errorf("position %d:%d is negative", line, utf16Col)
	}
	if line >= len(d.lineStarts) {
		return len(d.text), nil
	}
	start, end := d.lineStarts[line], d.lineEnd(line)
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

// Position converts a byte offset to (line, UTF-16 column). Offsets are
// clamped to the text.
func (d *Doc) Position(offset int) (line, utf16Col int) {
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
			cur = New(e.Text)
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
		cur = New(b.String())
	}
	return cur, nil
}
