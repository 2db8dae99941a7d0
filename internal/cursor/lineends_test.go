package cursor

import (
	"strings"
	"testing"
)

// TestFindLineEndingsAndBOM: every case of TestFind gives the same answer
// with CRLF and lone-CR line endings, and after a UTF-8 byte order mark
// (whose 3 bytes the offsets count).
func TestFindLineEndingsAndBOM(t *testing.T) {
	for _, variant := range []struct {
		name   string
		ending string
		bom    bool
	}{{"CRLF", "\r\n", false}, {"CR", "\r", false}, {"BOM", "\n", true}, {"BOM CR", "\r", true}} {
		for _, tc := range findCases {
			tc.text = strings.ReplaceAll(tc.text, "\n", variant.ending)
			tc.span = strings.ReplaceAll(tc.span, "\n", variant.ending)
			if variant.bom {
				tc.text = "\ufeff" + tc.text
			}
			t.Run(variant.name+"/"+tc.name, func(t *testing.T) { checkFind(t, tc) })
		}
	}
}

// FuzzFindDeep: a document nested depth levels deep (objects and arrays
// chosen by the bits of shape) is scanned in time linear in its size, and
// the path found is never longer than the nesting.
func FuzzFindDeep(f *testing.F) {
	f.Add(10_000, uint64(0), 0.5, 0)
	f.Add(5_000, uint64(0xAAAA), 1.0, 1)
	f.Add(3_000, uint64(0xF0F0F0F0), 0.3, 2)
	f.Fuzz(func(t *testing.T, depth int, shape uint64, where float64, format int) {
		depth = min(max(depth, 0), 20_000)
		var b strings.Builder
		closers := make([]byte, 0, depth)
		fm := Format(((format % 3) + 3) % 3)
		if fm == YAML {
			b.WriteString("x: ")
		} else if fm == TOML {
			b.WriteString("x = ")
		}
		for i := range depth {
			if shape>>(uint(i)%64)&1 == 1 {
				b.WriteString("[")
				closers = append(closers, ']')
			} else if fm == TOML {
				b.WriteString("{a = ")
				closers = append(closers, '}')
			} else {
				b.WriteString(`{"a": `)
				closers = append(closers, '}')
			}
		}
		b.WriteString("1")
		for i := len(closers) - 1; i >= 0; i-- {
			b.WriteByte(closers[i])
		}
		text := b.String()
		if where != where || where < 0 || where > 1 { // NaN and out of range
			where = 0.5
		}
		off := int(where * float64(len(text)))
		ctx := Find(text, off, fm)
		if len(ctx.Path) > depth+2 {
			t.Fatalf("path of %d segments in a document %d deep", len(ctx.Path), depth)
		}
		if ctx.Start < 0 || ctx.End > len(text) || ctx.Start > ctx.End {
			t.Fatalf("span %d..%d outside %d bytes", ctx.Start, ctx.End, len(text))
		}
	})
}
