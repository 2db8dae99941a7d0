package schema

import (
	"strings"
	"testing"
)

// TestLineEndingsAndBOM: the same configs with LF, CRLF and lone-CR line
// endings, with and without a UTF-8 BOM, parse alike and place their
// findings on the same line and UTF-16 column (the BOM is one UTF-16 unit
// on line 0; byte offsets count its 3 bytes).
func TestLineEndingsAndBOM(t *testing.T) {
	type want struct {
		code       string
		line, u16  int // of the finding's start
		endU16     int
		lineOfText string // the text at the start (to check Offset)
	}
	for _, tc := range []struct {
		name string
		path string
		text string // lines separated by "\n"; rewritten per ending
		want []want
	}{
		{
			name: "json", path: "m.json",
			text: "{\n  \"agent\": {\"ttl\": 1},\n  \"feture\": 1,\n  \"feature\": {\"fs\": \"reed\"}\n}",
			want: []want{{"A-UNKNOWN", 2, 2, 10, `"feture"`}, {"A-TYPES", 3, 20, 26, `"reed"`}},
		},
		{
			name: "yaml", path: "m.yaml",
			text: "agent:\n  ttl: 1\nfeture: 1\nfeature:\n  fs: reed\n",
			want: []want{{"A-UNKNOWN", 2, 0, 6, "feture"}, {"A-TYPES", 4, 6, 10, "reed"}},
		},
		{
			name: "toml", path: "m.toml",
			text: "feture = 1\n[feature]\nfs = \"reed\"\n",
			want: []want{{"A-UNKNOWN", 0, 0, 6, "feture"}, {"A-TYPES", 2, 5, 11, `"reed"`}},
		},
	} {
		for _, ending := range []string{"\n", "\r\n", "\r"} {
			if tc.path == "m.toml" && ending == "\r" {
				continue // TOML's newline is LF or CRLF: a lone CR is a syntax error (below)
			}
			for _, withBOM := range []bool{false, true} {
				name := tc.name + map[string]string{"\n": " LF", "\r\n": " CRLF", "\r": " CR"}[ending]
				text := strings.ReplaceAll(tc.text, "\n", ending)
				if withBOM {
					name += " BOM"
					text = "\ufeff" + text
				}
				t.Run(name, func(t *testing.T) {
					res := verifyAs(tc.path, text)
					if len(res.Diagnostics) != len(tc.want) {
						t.Fatalf("diagnostics %+v, want %d", res.Diagnostics, len(tc.want))
					}
					for i, w := range tc.want {
						d := res.Diagnostics[i]
						u16 := w.u16
						endU16 := w.endU16
						if withBOM && w.line == 0 {
							u16++
							endU16++
						}
						if d.Code != w.code || d.Range.Start.Line != w.line || d.Range.Start.UTF16 != u16 ||
							d.Range.End.Line != w.line || d.Range.End.UTF16 != endU16 {
							t.Errorf("%s at %+v-%+v, want %s at %d:%d-%d", d.Code, d.Range.Start, d.Range.End, w.code, w.line, u16, endU16)
						}
						if !strings.HasPrefix(text[d.Range.Start.Offset:], w.lineOfText) {
							t.Errorf("%s: offset %d points at %q, want %q", d.Code, d.Range.Start.Offset, text[d.Range.Start.Offset:min(len(text), d.Range.Start.Offset+10)], w.lineOfText)
						}
					}
				})
			}
		}
	}
}

// TestTOMLLoneCR: TOML knows no lone CR; the error is at the CR.
func TestTOMLLoneCR(t *testing.T) {
	res := verifyAs("m.toml", "a = 1\rb = 2\r")
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Code != "SYNTAX" {
		t.Fatalf("diagnostics %+v", res.Diagnostics)
	}
	if s := res.Diagnostics[0].Range.Start; s.Line != 0 || s.UTF16 != 5 {
		t.Errorf("at %+v, want 0:5", s)
	}
}

// TestLineIndex: golden positions for every line ending.
func TestLineIndex(t *testing.T) {
	text := "a\nb\r\nc\rd\r\re\U0001F600f"
	for _, tc := range []struct {
		off, line, col, u16 int
	}{
		{0, 0, 0, 0}, {2, 1, 0, 0}, {3, 1, 1, 1}, {5, 2, 0, 0}, {7, 3, 0, 0},
		{9, 4, 0, 0}, {10, 5, 0, 0}, {11, 5, 1, 1}, {15, 5, 5, 3},
	} {
		p := newLineIndex(text).position(tc.off)
		if p.Line != tc.line || p.Column != tc.col || p.UTF16 != tc.u16 {
			t.Errorf("offset %d: %+v, want %d:%d (utf16 %d)", tc.off, p, tc.line, tc.col, tc.u16)
		}
	}
}
