package textdoc

import "testing"

// TestLoneCR: LSP counts "\n", "\r\n" and a lone "\r" as line ends, so
// positions in a document with lone CRs (or a mix) are on the right line.
func TestLoneCR(t *testing.T) {
	d := New("a\rbc\r\nd\n\r\re😀f")
	if d.Lines() != 6 {
		t.Errorf("%d lines, want 6", d.Lines())
	}
	for _, tc := range []struct{ line, col, off int }{
		{0, 0, 0}, {0, 5, 1}, // past the end: before the CR
		{1, 0, 2}, {1, 2, 4}, {1, 9, 4}, // before the CRLF
		{2, 0, 6}, {3, 0, 8}, {4, 0, 9}, {5, 0, 10}, {5, 1, 11}, {5, 3, 15}, {5, 4, 16},
	} {
		got, err := d.Offset(tc.line, tc.col)
		if err != nil || got != tc.off {
			t.Errorf("Offset(%d,%d) = %d, %v; want %d", tc.line, tc.col, got, err, tc.off)
		}
	}
	for _, tc := range []struct{ off, line, col int }{{1, 0, 1}, {2, 1, 0}, {7, 2, 1}, {9, 4, 0}, {15, 5, 3}} {
		if l, c := d.Position(tc.off); l != tc.line || c != tc.col {
			t.Errorf("Position(%d) = %d:%d, want %d:%d", tc.off, l, c, tc.line, tc.col)
		}
	}
	// A BOM is one UTF-16 unit of line 0.
	b := New("\ufeff{\"a\": 1}")
	if l, c := b.Position(4); l != 0 || c != 2 {
		t.Errorf("after a BOM: Position(4) = %d:%d, want 0:2", l, c)
	}
}
