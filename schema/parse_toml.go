package schema

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// tomlSpan is where a key and its value sit in a TOML text.
type tomlSpan struct {
	keyStart, keyEnd int
	start, end       int
}

// parseTOML parses a TOML document. go-toml decodes the values (and checks
// TOML's rules such as redefined tables); a second pass over go-toml's
// parser AST records where each key and value is, by JSON pointer.
func parseTOML(text string) (*Node, error) {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(text), &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			li := newLineIndex(text)
			off := yamlOffset(text, li, row, col)
			return nil, &syntaxError{Start: off, End: min(off+1, len(text)), Msg: strip(de.Error())}
		}
		return nil, &syntaxError{Msg: strip(err.Error())}
	}
	spans := tomlSpans(text)
	root, err := tomlNode(doc, "", spans, 0)
	if err != nil {
		return nil, err
	}
	root.Start, root.End = 0, len(text)
	return root, nil
}

func strip(msg string) string {
	const p = "toml: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

func tomlNode(v any, ptr string, spans map[string]tomlSpan, depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, &syntaxError{Msg: "the document is nested too deeply"}
	}
	sp := spans[ptr]
	n := &Node{Start: sp.start, End: sp.end}
	switch x := v.(type) {
	case map[string]any:
		n.Kind = KindObject
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := spans[Pointer(ptr, keys[i])], spans[Pointer(ptr, keys[j])]
			if a.keyStart != b.keyStart {
				return a.keyStart < b.keyStart
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			cp := Pointer(ptr, k)
			child, err := tomlNode(x[k], cp, spans, depth+1)
			if err != nil {
				return nil, err
			}
			ks := spans[cp]
			n.Members = append(n.Members, Member{Key: k, KeyStart: ks.keyStart, KeyEnd: ks.keyEnd, Value: child})
		}
	case []any:
		n.Kind = KindArray
		for i, it := range x {
			child, err := tomlNode(it, PointerIndex(ptr, i), spans, depth+1)
			if err != nil {
				return nil, err
			}
			n.Items = append(n.Items, child)
		}
	case string:
		n.Kind, n.Str = KindString, x
	case bool:
		n.Kind, n.Bool = KindBool, x
	case int64:
		n.Kind, n.Str = KindNumber, strconv.FormatInt(x, 10)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, &syntaxError{Start: sp.start, End: sp.end, Msg: "inf and nan cannot be represented in a config"}
		}
		n.Kind, n.Str = KindNumber, strconv.FormatFloat(x, 'g', -1, 64)
	default: // dates and times
		n.Kind, n.Str = KindString, fmt.Sprint(x)
	}
	return n, nil
}

// tomlSpans maps JSON pointers to key and value spans.
func tomlSpans(text string) map[string]tomlSpan {
	spans := map[string]tomlSpan{}
	var p unstable.Parser
	p.Reset([]byte(text))
	table := ""
	arrayCount := map[string]int{}
	lastTable := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			ptr, ks, ke := tomlKeyPointer(e.Key(), "", arrayCount)
			if e.Kind == unstable.ArrayTable {
				i := arrayCount[ptr]
				arrayCount[ptr] = i + 1
				spans[ptr] = tomlSpan{keyStart: ks, keyEnd: ke, start: ks, end: ke}
				ptr = PointerIndex(ptr, i)
			}
			spans[ptr] = tomlSpan{keyStart: ks, keyEnd: ke, start: ks, end: ke}
			table, lastTable = ptr, ptr
		case unstable.KeyValue:
			ptr, ks, ke := tomlKeyPointer(e.Key(), table, arrayCount)
			start, end := tomlValueSpans(e.Value(), ptr, spans)
			if start < 0 {
				start, end = emptyArraySpan(text, ke)
			}
			spans[ptr] = tomlSpan{keyStart: ks, keyEnd: ke, start: start, end: end}
			if lastTable != "" {
				s := spans[lastTable]
				s.end = max(s.end, end)
				spans[lastTable] = s
			}
		}
	}
	return spans
}

// tomlKeyPointer resolves a (dotted) key under a table pointer. Earlier
// array tables on the path refer to their last element.
func tomlKeyPointer(it unstable.Iterator, base string, arrayCount map[string]int) (string, int, int) {
	ptr := base
	ks, ke := 0, 0
	first := true
	for it.Next() {
		k := it.Node()
		if n, ok := arrayCount[ptr]; ok && ptr != base && n > 0 {
			ptr = PointerIndex(ptr, n-1)
		}
		ptr = Pointer(ptr, string(k.Data))
		if first {
			ks = int(k.Raw.Offset)
			first = false
		}
		ke = int(k.Raw.Offset + k.Raw.Length)
	}
	if base == "" {
		// A table header: resolve array tables along the whole path.
		return ptr, ks, ke
	}
	return ptr, ks, ke
}

func tomlValueSpans(v *unstable.Node, ptr string, spans map[string]tomlSpan) (int, int) {
	switch v.Kind {
	case unstable.Array:
		start, end := -1, -1
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			cp := PointerIndex(ptr, i)
			s, e := tomlValueSpans(c, cp, spans)
			if s < 0 {
				s, e = int(c.Raw.Offset), int(c.Raw.Offset)
			}
			spans[cp] = tomlSpan{keyStart: s, keyEnd: e, start: s, end: e}
			if start < 0 {
				start = s
			}
			end = e
			i++
		}
		if start < 0 {
			return -1, -1 // empty: located by the caller
		}
		return start - 1, end + 1
	case unstable.InlineTable:
		start := int(v.Raw.Offset)
		end := start + 1
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind != unstable.KeyValue {
				continue
			}
			cp, ks, ke := tomlKeyPointer(c.Key(), ptr, nil)
			s, e := tomlValueSpans(c.Value(), cp, spans)
			if s < 0 {
				s, e = ke, ke
			}
			spans[cp] = tomlSpan{keyStart: ks, keyEnd: ke, start: s, end: e}
			end = max(end, e+1)
		}
		return start, end
	default:
		return int(v.Raw.Offset), int(v.Raw.Offset + v.Raw.Length)
	}
}

// emptyArraySpan finds `[ ]` after the `=` that follows a key ending at keyEnd.
func emptyArraySpan(text string, keyEnd int) (int, int) {
	i := keyEnd
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '=') {
		i++
	}
	if i < len(text) && text[i] == '[' {
		if j := strings.IndexByte(text[i:], ']'); j >= 0 {
			return i, i + j + 1
		}
	}
	return keyEnd, keyEnd
}
