// Package cursor tells where in a config document the cursor is: the key
// path of the object or value around it, whether a key or a value is being
// typed, and the span of the token under the cursor. It works on broken,
// half-typed text (JSON, YAML and TOML) because that is what an editor
// sends while the user types; it never fails, it answers Nothing when it
// cannot tell.
package cursor

import "strings"

// Format of a document.
type Format int

// Formats (the same order as schema.Format).
const (
	JSON Format = iota
	YAML
	TOML
)

// Seg is one step of a key path: an object key or an array index.
type Seg struct {
	Key     string
	Index   int
	IsIndex bool
}

// Kind of place the cursor is at.
type Kind int

// Kinds.
const (
	Nothing  Kind = iota // nowhere useful (inside a comment, between a value and a comma, ...)
	Key                  // typing a property name of the object at Path
	Value                // typing the value at Path
	Template             // inside a {{ }} or {% %} template block
)

func (k Kind) String() string {
	switch k {
	case Key:
		return "key"
	case Value:
		return "value"
	case Template:
		return "template"
	default:
		return "nothing"
	}
}

// Context describes the cursor's place.
type Context struct {
	Kind Kind
	// Path: for Key, the path of the object whose key is typed; for Value,
	// the path of the value.
	Path []Seg
	// Prefix is the part of the token before the cursor, without quotes.
	Prefix string
	// Start and End are the byte offsets of the whole token under the
	// cursor (quotes included): the span a completion replaces.
	Start, End int
	// Quote is the quote character the token starts with, or 0.
	Quote byte
	// Siblings are the keys already present in the object (Key only),
	// without the one being typed.
	Siblings []string
	// HasSeparator: the key being typed already has its ':' or '=' (only
	// the name should be replaced).
	HasSeparator bool
	// TableHeader: the key is typed inside a TOML [table] header.
	TableHeader bool
	// MaybeKey: a YAML "- word" line can be a scalar item (Value) or the
	// first key of an object item; completion may offer both.
	MaybeKey bool
	// InFilter: Template only; the cursor follows a '|'.
	InFilter bool
	// Indent is the column of the line's content (YAML/TOML snippets).
	Indent int
}

// Pointer renders a path as a JSON pointer ("/feature/fs/mode").
func Pointer(path []Seg) string {
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if s.IsIndex {
			b.WriteString(itoa(s.Index))
			continue
		}
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s.Key, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		buf[n] = '-'
	}
	return string(buf[n:])
}

// Find returns the cursor context at byte offset off of text in format f.
// Offsets outside the text are clamped.
func Find(text string, off int, f Format) Context {
	if off < 0 {
		off = 0
	}
	if off > len(text) {
		off = len(text)
	}
	if strings.HasPrefix(text, bom) {
		// A UTF-8 byte order mark: the document starts after it; offsets
		// keep counting it.
		ctx := find(text[len(bom):], max(off-len(bom), 0), f)
		ctx.Start += len(bom)
		ctx.End += len(bom)
		return ctx
	}
	return find(text, off, f)
}

// bom is the UTF-8 byte order mark.
const bom = "\ufeff"

func find(text string, off int, f Format) Context {
	if ctx, ok := findTemplate(text, off); ok {
		return ctx
	}
	switch f {
	case YAML:
		return findYAML(text, off)
	case TOML:
		return findTOML(text, off)
	default:
		return findJSON(text, off, ':', 0)
	}
}

// findTemplate detects a cursor inside an open "{{" or "{%" block.
func findTemplate(text string, off int) (Context, bool) {
	before := text[:off]
	// Templates do not span many lines in configs; bound the look-back.
	lo := max(0, len(before)-2048)
	window := before[lo:]
	open := max(strings.LastIndex(window, "{{"), strings.LastIndex(window, "{%"))
	if open < 0 {
		return Context{}, false
	}
	if strings.Contains(window[open:], "}}") || strings.Contains(window[open:], "%}") {
		return Context{}, false
	}
	inner := window[open+2:]
	// Inside a string literal of the template: nothing to complete.
	if strings.Count(inner, `"`)%2 == 1 || strings.Count(inner, `'`)%2 == 1 {
		return Context{Kind: Nothing}, true
	}
	i := len(inner)
	for i > 0 && isIdentByte(inner[i-1]) {
		i--
	}
	prefix := inner[i:]
	j := i
	for j > 0 && (inner[j-1] == ' ' || inner[j-1] == '\t') {
		j--
	}
	start := off - len(prefix)
	end := off
	for end < len(text) && isIdentByte(text[end]) {
		end++
	}
	return Context{
		Kind:     Template,
		Prefix:   prefix,
		Start:    start,
		End:      end,
		InFilter: j > 0 && inner[j-1] == '|',
	}, true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func clonePath(p []Seg) []Seg {
	out := make([]Seg, len(p))
	copy(out, p)
	return out
}

func appendSeg(p []Seg, s Seg) []Seg {
	out := make([]Seg, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}
