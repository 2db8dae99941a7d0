package assist

import (
	"context"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// deepJSON nests depth objects under feature.env and returns the document
// and the offset of the innermost key.
func deepJSON(depth int) (string, int) {
	var b strings.Builder
	b.WriteString(`{"feature": {"env": `)
	for range depth {
		b.WriteString(`{"a": `)
	}
	b.WriteString(`{"include": 1`)
	off := b.Len() - len(`clude": 1`)
	b.WriteString(strings.Repeat("}", depth+3))
	return b.String(), off
}

func deepYAML(depth int) (string, int) {
	var b strings.Builder
	b.WriteString("feature:\n  env:\n")
	for i := range depth {
		b.WriteString(strings.Repeat(" ", 4+i))
		b.WriteString("a:\n")
	}
	b.WriteString(strings.Repeat(" ", 4+depth))
	off := b.Len() + 2
	b.WriteString("include: 1\n")
	return b.String(), off
}

func newEngine(tb testing.TB) *Engine {
	tb.Helper()
	e, err := New(schema.JSONSchema())
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestDeepDocument: hover and completion in a document nested 10,000 deep
// (YAML: 2,000, whose indentation alone is 2 MB)
// answer (nothing useful: the schema ends long before) without trouble, and
// the cursor finds the innermost path.
func TestDeepDocument(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name   string
		make   func(int) (string, int)
		format cursor.Format
		depth  int
	}{{"json", deepJSON, cursor.JSON, 10_000}, {"yaml", deepYAML, cursor.YAML, 2_000}} {
		t.Run(tc.name, func(t *testing.T) {
			text, off := tc.make(tc.depth)
			c := cursor.Find(text, off, tc.format)
			if len(c.Path) != tc.depth+2 {
				t.Fatalf("path length %d, want %d (kind %v)", len(c.Path), tc.depth+2, c.Kind)
			}
			req := Request{Doc: textdoc.New(text), Offset: off, Format: tc.format}
			if h := e.Hover(req); h != nil {
				t.Errorf("hover deep inside an untyped object: %+v", h)
			}
			if _, err := e.Complete(context.Background(), req); err != nil {
				t.Error(err)
			}
		})
	}
}

// BenchmarkDeepHover / BenchmarkDeepComplete: one request at the innermost
// key of a JSON document nested 10,000 deep. Linear in the depth: the
// cursor builds the path once.
func BenchmarkDeepHover(b *testing.B) {
	e := newEngine(b)
	text, off := deepJSON(10_000)
	req := Request{Doc: textdoc.New(text), Offset: off, Format: cursor.JSON}
	b.ReportAllocs()
	for b.Loop() {
		e.Hover(req)
	}
}

func BenchmarkDeepComplete(b *testing.B) {
	e := newEngine(b)
	text, off := deepJSON(10_000)
	req := Request{Doc: textdoc.New(text), Offset: off, Format: cursor.JSON}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Complete(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDeepAssist: hover and completion anywhere in deep documents (JSON
// and YAML, up to 10,000 levels) answer without failing.
func FuzzDeepAssist(f *testing.F) {
	f.Add(10_000, 0.99, false)
	f.Add(2_000, 0.5, true)
	f.Add(1, 0.0, false)
	e := newEngine(f)
	f.Fuzz(func(t *testing.T, depth int, where float64, yaml bool) {
		depth = min(max(depth, 0), 10_000)
		text, _ := deepJSON(depth)
		format := cursor.JSON
		if yaml {
			depth = min(depth, 1_000)
			text, _ = deepYAML(depth)
			format = cursor.YAML
		}
		if where != where || where < 0 || where > 1 {
			where = 0.5
		}
		req := Request{Doc: textdoc.New(text), Offset: int(where * float64(len(text))), Format: format}
		e.Hover(req)
		if _, err := e.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	})
}
