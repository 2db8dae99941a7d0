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
	if strings.HasPrefix(text, bom) {
		// go-toml refuses a BOM. Three spaces (indentation, which TOML
		// ignores) keep every offset where it was.
		text = "   " + text[len(bom):]
	}
	if err := tomlTableSizes(text); err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := toml.Unmarshal([]byte(text), &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			li := newLineIndex(text)
			off := yamlOffset(text, li, row, col)
			return nil, &syntaxError{Start: off, End: tokenEnd(text, off), Msg: strip(de.Error())}
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
	sp := spans[ptr]
	if depth > maxDepth {
		return nil, &syntaxError{Start: sp.start, End: max(sp.end, sp.start+1), Msg: sprintf("the document is nested more than %d levels deep", maxDepth)}
	}
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

// maxTOMLTableKeys bounds the keys of one TOML table. go-toml finds
// duplicate keys by a linear search among a table's keys, so checking a
// table takes time that grows with the square of its keys (40,000 keys:
// 2.4 s; a 10 MiB file of them: minutes). No config comes near the bound.
const maxTOMLTableKeys = 10_000

// tomlTableSizes refuses a table (or inline table) with more than
// maxTOMLTableKeys keys, at the first key past the limit, before go-toml
// is asked. A text that does not parse is left to go-toml to report.
func tomlTableSizes(text string) error {
	var p unstable.Parser
	p.Reset([]byte(text))
	table := ""
	arrayCount := map[string]int{}
	counts := map[string]int{}
	count := func(parent string, k *unstable.Node) error {
		counts[parent]++
		if counts[parent] > maxTOMLTableKeys {
			start := int(k.Raw.Offset)
			return &syntaxError{Start: start, End: start + int(k.Raw.Length),
				Msg: sprintf("more than %d keys in one table: such a TOML file is not checked (go-toml's check of its keys would take minutes)", maxTOMLTableKeys)}
		}
		return nil
	}
	var inline func(v *unstable.Node, ptr string) error
	inline = func(v *unstable.Node, ptr string) error {
		it := v.Children()
		for i := 0; it.Next(); i++ {
			c := it.Node()
			switch c.Kind {
			case unstable.KeyValue:
				parts := tomlKeyParts(c.Key(), ptr, nil)
				last := parts[len(parts)-1]
				if err := count(tomlParent(parts, ptr), lastKey(c)); err != nil {
					return err
				}
				if err := inline(c.Value(), last.ptr); err != nil {
					return err
				}
			case unstable.InlineTable, unstable.Array:
				if err := inline(c, PointerIndex(ptr, i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts := tomlKeyParts(e.Key(), "", arrayCount)
			ptr := parts[len(parts)-1].ptr
			if e.Kind == unstable.ArrayTable {
				i := arrayCount[ptr]
				arrayCount[ptr] = i + 1
				ptr = PointerIndex(ptr, i)
			}
			table = ptr
		case unstable.KeyValue:
			parts := tomlKeyParts(e.Key(), table, arrayCount)
			if err := count(tomlParent(parts, table), lastKey(e)); err != nil {
				return err
			}
			if v := e.Value(); v.Kind == unstable.InlineTable || v.Kind == unstable.Array {
				if err := inline(v, parts[len(parts)-1].ptr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// tomlParent is the pointer of the table a (dotted) key is set in.
func tomlParent(parts []tomlPart, base string) string {
	if len(parts) >= 2 {
		return parts[len(parts)-2].ptr
	}
	return base
}

// lastKey is the last part of a key-value's (dotted) key.
func lastKey(kv *unstable.Node) *unstable.Node {
	var last *unstable.Node
	it := kv.Key()
	for it.Next() {
		last = it.Node()
	}
	if last == nil {
		return kv
	}
	return last
}

// tomlSpans maps JSON pointers to key and value spans.
func tomlSpans(text string) map[string]tomlSpan {
	spans := map[string]tomlSpan{}
	var p unstable.Parser
	p.Reset([]byte(text))
	table := ""
	arrayCount := map[string]int{}
	lastTable := ""
	// intermediate records the parts of a dotted key that have no span
	// yet (e.g. `feature` in `feature.hostname = true`).
	intermediate := func(parts []tomlPart, end int) {
		for _, pt := range parts[:len(parts)-1] {
			if _, ok := spans[pt.ptr]; !ok {
				spans[pt.ptr] = tomlSpan{keyStart: pt.start, keyEnd: pt.end, start: pt.start, end: end}
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts := tomlKeyParts(e.Key(), "", arrayCount)
			last := parts[len(parts)-1]
			ptr := last.ptr
			intermediate(parts, last.end)
			if e.Kind == unstable.ArrayTable {
				i := arrayCount[ptr]
				arrayCount[ptr] = i + 1
				if _, ok := spans[ptr]; !ok {
					spans[ptr] = tomlSpan{keyStart: last.start, keyEnd: last.end, start: last.start, end: last.end}
				}
				ptr = PointerIndex(ptr, i)
			}
			spans[ptr] = tomlSpan{keyStart: last.start, keyEnd: last.end, start: last.start, end: last.end}
			table, lastTable = ptr, ptr
		case unstable.KeyValue:
			parts := tomlKeyParts(e.Key(), table, arrayCount)
			last := parts[len(parts)-1]
			start, end := tomlValueSpans(e.Value(), last.ptr, spans)
			if start < 0 {
				start, end = emptyArraySpan(text, last.end)
			}
			intermediate(parts, end)
			spans[last.ptr] = tomlSpan{keyStart: last.start, keyEnd: last.end, start: start, end: end}
			if lastTable != "" {
				s := spans[lastTable]
				s.end = max(s.end, end)
				spans[lastTable] = s
			}
		}
	}
	return spans
}

// tomlPart is one part of a dotted key: its pointer and span.
type tomlPart struct {
	ptr        string
	start, end int
}

// tomlKeyParts resolves a (dotted) key under a table pointer. Array
// tables on the path refer to their last element.
func tomlKeyParts(it unstable.Iterator, base string, arrayCount map[string]int) []tomlPart {
	ptr := base
	var parts []tomlPart
	for it.Next() {
		k := it.Node()
		if n, ok := arrayCount[ptr]; ok && ptr != base && n > 0 {
			ptr = PointerIndex(ptr, n-1)
		}
		ptr = Pointer(ptr, string(k.Data))
		parts = append(parts, tomlPart{ptr: ptr, start: int(k.Raw.Offset), end: int(k.Raw.Offset + k.Raw.Length)})
	}
	if len(parts) == 0 {
		parts = append(parts, tomlPart{ptr: base})
	}
	return parts
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
			parts := tomlKeyParts(c.Key(), ptr, nil)
			last := parts[len(parts)-1]
			cp, ks, ke := last.ptr, last.start, last.end
			s, e := tomlValueSpans(c.Value(), cp, spans)
			if s < 0 {
				s, e = ke, ke
			}
			spans[cp] = tomlSpan{keyStart: ks, keyEnd: ke, start: s, end: e}
			for _, pt := range parts[:len(parts)-1] {
				if _, ok := spans[pt.ptr]; !ok {
					spans[pt.ptr] = tomlSpan{keyStart: pt.start, keyEnd: pt.end, start: pt.start, end: e}
				}
			}
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

// tokenEnd extends an error position over the bare key or word it starts
// (at least one byte), so that an editor underlines the whole key.
func tokenEnd(text string, off int) int {
	end := off
	for end < len(text) {
		c := text[end]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
		end++
	}
	if end == off {
		end = min(off+1, len(text))
	}
	return end
}
