package textdoc

import (
	"testing"
	"unicode/utf16"
)

func TestOffsetAndPosition(t *testing.T) {
	d := New("ab\r\nc😀d\n\nlast")
	tests := []struct {
		line, col int
		off       int
	}{
		{0, 0, 0}, {0, 2, 2}, {0, 9, 2}, // past the line end: the line end (before \r\n)
		{1, 0, 4}, {1, 1, 5}, {1, 3, 9}, {1, 2, 5}, // inside the surrogate pair snaps back
		{1, 4, 10}, {2, 0, 11}, {3, 4, 16}, {9, 0, 16},
	}
	for _, tc := range tests {
		got, err := d.Offset(tc.line, tc.col)
		if err != nil || got != tc.off {
			t.Errorf("Offset(%d,%d) = %d, %v; want %d", tc.line, tc.col, got, err, tc.off)
		}
	}
	if _, err := d.Offset(-1, 0); err == nil {
		t.Error("negative line accepted")
	}
	for _, tc := range []struct{ off, line, col int }{{0, 0, 0}, {5, 1, 1}, {9, 1, 3}, {16, 3, 4}, {99, 3, 4}} {
		l, c := d.Position(tc.off)
		if l != tc.line || c != tc.col {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
}

func TestApply(t *testing.T) {
	d := New("hello\nworld")
	got, err := d.Apply([]Edit{
		{StartLine: 1, StartChar: 0, EndLine: 1, EndChar: 5, Text: "there"},
		{StartLine: 0, StartChar: 5, EndLine: 1, EndChar: 0, Text: ", "},
		{Whole: false, StartLine: 0, StartChar: 0, EndLine: 0, EndChar: 0, Text: ">"},
	})
	if err != nil || got.Text() != ">hello, there" {
		t.Fatalf("Apply = %q, %v", got.Text(), err)
	}
	if _, err := d.Apply([]Edit{{StartLine: 1, StartChar: 3, EndLine: 0, EndChar: 1}}); err == nil {
		t.Error("reversed range accepted")
	}
	if d.Text() != "hello\nworld" {
		t.Error("Apply changed the original")
	}
	whole, _ := d.Apply([]Edit{{Whole: true, Text: "x"}})
	if whole.Text() != "x" || whole.Lines() != 1 {
		t.Errorf("whole replacement = %q", whole.Text())
	}
}

// FuzzApply checks edits against a reference built on UTF-16 code units.
func FuzzApply(f *testing.F) {
	f.Add("héllo\nwörld😀\n", 0, 1, 1, 3, "X")
	f.Add("", 0, 0, 0, 0, "abc\n")
	f.Add("a\r\nb", 0, 1, 1, 0, "")
	f.Fuzz(func(t *testing.T, text string, sl, sc, el, ec int, insert string) {
		d := New(text)
		start, err1 := d.Offset(sl, sc)
		end, err2 := d.Offset(el, ec)
		if err1 != nil || err2 != nil {
			return
		}
		if start < 0 || start > len(text) || end < 0 || end > len(text) {
			t.Fatalf("offsets %d,%d outside %d bytes", start, end, len(text))
		}
		// Round trip: the position of an offset maps back to it.
		l, c := d.Position(start)
		if back, _ := d.Offset(l, c); back != start {
			t.Fatalf("Position(%d) = %d:%d maps back to %d", start, l, c, back)
		}
		got, err := d.Apply([]Edit{{StartLine: sl, StartChar: sc, EndLine: el, EndChar: ec, Text: insert}})
		if end < start {
			if err == nil {
				t.Fatal("reversed range accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := text[:start] + insert + text[end:]
		if got.Text() != want {
			t.Fatalf("Apply = %q, want %q", got.Text(), want)
		}
		if n := UTF16Len(text); n != len(utf16.Encode([]rune(text))) {
			t.Fatalf("UTF16Len = %d, want %d", n, len(utf16.Encode([]rune(text))))
		}
	})
}

// TestUTF8Encoding: with the utf-8 position encoding columns are bytes;
// a column inside a multi-byte character snaps to its start.
func TestUTF8Encoding(t *testing.T) {
	// "c😀d" is c (1 byte), the emoji (4 bytes), d (1 byte).
	d := NewEncoded("ab\r\nc😀d\néx\nlast", UTF8)
	if d.Encoding() != UTF8 || d.Encoding().String() != "utf-8" || UTF16.String() != "utf-16" {
		t.Fatalf("encoding = %v", d.Encoding())
	}
	for _, tc := range []struct {
		name      string
		line, col int
		off       int
	}{
		{"start", 0, 0, 0},
		{"line end", 0, 2, 2},
		{"past the line end, before \\r\\n", 0, 9, 2},
		{"before the emoji", 1, 1, 5},
		{"inside the emoji snaps back", 1, 3, 5},
		{"after the emoji", 1, 5, 9},
		{"end of line 1", 1, 6, 10},
		{"inside é snaps back", 2, 1, 11},
		{"after é", 2, 2, 13},
		{"past the document", 9, 0, 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Offset(tc.line, tc.col)
			if err != nil || got != tc.off {
				t.Errorf("Offset(%d,%d) = %d, %v; want %d", tc.line, tc.col, got, err, tc.off)
			}
		})
	}
	for _, tc := range []struct{ off, line, col int }{{0, 0, 0}, {5, 1, 1}, {9, 1, 5}, {13, 2, 2}, {99, 3, 4}} {
		l, c := d.Position(tc.off)
		if l != tc.line || c != tc.col {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
	// Edits keep the encoding: byte columns 5..9 are the emoji.
	next, err := d.Apply([]Edit{{StartLine: 1, StartChar: 1, EndLine: 1, EndChar: 5, Text: "-"}})
	if err != nil || next.Text() != "ab\r\nc-d\néx\nlast" || next.Encoding() != UTF8 {
		t.Fatalf("Apply = %q, %v, %v", next.Text(), err, next.Encoding())
	}
	whole, _ := d.Apply([]Edit{{Whole: true, Text: "é"}})
	if l, c := whole.Position(2); whole.Encoding() != UTF8 || l != 0 || c != 2 {
		t.Errorf("after a whole replacement: %v, %d:%d", whole.Encoding(), l, c)
	}
}
