package schema

import (
	"sort"
	"unicode/utf8"
)

// lineIndex converts byte offsets of one text into line/column positions.
type lineIndex struct {
	text   string
	starts []int // byte offset of each line start
}

func newLineIndex(text string) *lineIndex {
	return &lineIndex{text: text, starts: lineStarts(text)}
}

// lineStarts returns the byte offset of each line's start. A line ends at
// "\n", "\r\n" or a lone "\r" (as LSP and YAML count lines; old Mac
// files and some editors' output use lone CRs).
func lineStarts(text string) []int {
	starts := make([]int, 1, 64)
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			starts = append(starts, i+1)
		case '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				continue // the "\n" ends the line
			}
			starts = append(starts, i+1)
		}
	}
	return starts
}

// bom is the UTF-8 byte order mark some editors write at the start of a
// file. Every format accepts it there; offsets still count its 3 bytes
// (and LSP columns its one UTF-16 unit).
const bom = "\ufeff"

// position of a byte offset (clamped to the text).
func (li *lineIndex) position(off int) Position {
	if off < 0 {
		off = 0
	}
	if off > len(li.text) {
		off = len(li.text)
	}
	line := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > off }) - 1
	start := li.starts[line]
	return Position{Line: line, Column: off - start, UTF16: utf16Len(li.text[start:off]), Offset: off}
}

func (li *lineIndex) rangeOf(start, end int) Range {
	if end < start {
		end = start
	}
	return Range{Start: li.position(start), End: li.position(end)}
}

// utf16Len counts UTF-16 code units; invalid bytes count one each, as
// editors that replace them with U+FFFD do.
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
