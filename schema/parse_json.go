package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func jsonNumber(s string) json.Number { return json.Number(s) }

// MaxNestingDepth bounds the nesting of objects and arrays in a config (of
// every format), so that hostile input cannot exhaust the stack or the
// time of anything that walks the tree. Deeper documents are a syntax
// error at the first value past the limit. Real configs nest fewer than 10
// levels.
const MaxNestingDepth = 256

// MaxDocumentBytes bounds the size of a config (and of a rendered
// template): larger texts get one error at the first byte past the limit
// and are not parsed.
const MaxDocumentBytes = 10 << 20

const maxDepth = MaxNestingDepth

// syntaxError is a parse failure with the byte span it concerns.
type syntaxError struct {
	Start, End int
	Msg        string
}

func (e *syntaxError) Error() string { return e.Msg }

// parseJSON parses one JSON document into a Node tree, recording the byte
// span of every key and value. Duplicate keys are an error, as they are for
// serde's structs.
func parseJSON(text string) (*Node, error) {
	p := &jsonParser{s: text}
	if strings.HasPrefix(text, bom) {
		p.i = len(bom)
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errAt(p.i, p.i, "expected a JSON value, found the end of the file")
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return nil, p.errAt(p.i, p.i+1, "unexpected %s after the end of the JSON value", p.describe())
	}
	return n, nil
}

type jsonParser struct {
	s    string
	i    int
	slab []Node // nodes are carved from chunks to save allocations
}

func (p *jsonParser) node(n Node) *Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Node, 0, 64)
	}
	p.slab = append(p.slab, n)
	return &p.slab[len(p.slab)-1]
}

func (p *jsonParser) errAt(start, end int, format string, args ...any) error {
	if end > len(p.s) {
		end = len(p.s)
	}
	return &syntaxError{Start: start, End: end, Msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) describe() string {
	if p.i >= len(p.s) {
		return "end of file"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return strconv.QuoteRune(r)
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.i, p.i+1, "the document is nested more than %d levels deep", maxDepth)
	}
	if p.i >= len(p.s) {
		return nil, p.errAt(p.i, p.i, "expected a value, found the end of the file")
	}
	start := p.i
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return p.node(Node{Kind: KindString, Str: s, Start: start, End: p.i}), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range [...]struct {
			word string
			node Node
		}{{"true", Node{Kind: KindBool, Bool: true}}, {"false", Node{Kind: KindBool}}, {"null", Node{Kind: KindNull}}} {
			if len(p.s)-p.i >= len(lit.word) && p.s[p.i:p.i+len(lit.word)] == lit.word {
				n := p.node(lit.node)
				n.Start, n.End = p.i, p.i+len(lit.word)
				p.i += len(lit.word)
				return n, nil
			}
		}
		return nil, p.errAt(p.i, p.i+1, "expected a value, found %s", p.describe())
	}
}

func (p *jsonParser) object(depth int) (*Node, error) {
	n := p.node(Node{Kind: KindObject, Start: p.i})
	p.i++ // {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		n.End = p.i
		return n, nil
	}
	var seen keySet
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			if p.i < len(p.s) && p.s[p.i] == '}' {
				return nil, p.errAt(p.i, p.i+1, "trailing comma: expected a key after `,`, found `}`")
			}
			return nil, p.errAt(p.i, p.i+1, "expected a string key, found %s", p.describe())
		}
		ks := p.i
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		ke := p.i
		if seen.has(key, n) {
			return nil, p.errAt(ks, ke, "duplicate key %q", key)
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errAt(p.i, p.i+1, "expected `:` after key %q, found %s", key, p.describe())
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Members = append(n.Members, Member{Key: key, KeyStart: ks, KeyEnd: ke, Value: v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errAt(p.i, p.i, "expected `,` or `}`, found the end of the file")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			n.End = p.i
			return n, nil
		default:
			return nil, p.errAt(p.i, p.i+1, "expected `,` or `}` after an object member, found %s", p.describe())
		}
	}
}

func (p *jsonParser) array(depth int) (*Node, error) {
	n := p.node(Node{Kind: KindArray, Start: p.i})
	p.i++ // [
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		n.End = p.i
		return n, nil
	}
	for {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			return nil, p.errAt(p.i, p.i+1, "trailing comma: expected a value after `,`, found `]`")
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Items = append(n.Items, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errAt(p.i, p.i, "expected `,` or `]`, found the end of the file")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			n.End = p.i
			return n, nil
		default:
			return nil, p.errAt(p.i, p.i+1, "expected `,` or `]` after an array item, found %s", p.describe())
		}
	}
}

func (p *jsonParser) number() (*Node, error) {
	start := p.i
	s := p.s
	i := p.i
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, p.errAt(start, i+1, "invalid number: expected a digit")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return nil, p.errAt(start, i+1, "invalid number: expected a digit after `.`")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, p.errAt(start, i+1, "invalid number: expected a digit in the exponent")
		}
	}
	p.i = i
	return p.node(Node{Kind: KindNumber, Str: s[start:i], Start: start, End: i}), nil
}

// str scans a string literal starting at the opening quote.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++
	// Fast path: no escapes.
	for j := p.i; j < len(p.s); j++ {
		c := p.s[j]
		if c == '"' {
			v := p.s[p.i:j]
			if !utf8.ValidString(v) {
				break
			}
			p.i = j + 1
			return v, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c == '\n':
			return "", p.errAt(start, p.i, "unterminated string: the line ends before the closing `\"`")
		case c < 0x20:
			return "", p.errAt(p.i, p.i+1, "control character %q in a string must be escaped", c)
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errAt(p.i, p.i+1, "unterminated string")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errAt(p.i-2, p.i+4, "invalid \\u escape: expected four hex digits")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						var ok2 bool
						if r2, ok2 = p.hex4(); !ok2 {
							p.i = save
							r2 = -1
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.errAt(p.i-2, p.i, "invalid escape `\\%c` in a string", e)
			}
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errAt(p.i, p.i+1, "invalid UTF-8 in a string")
			}
			b = append(b, p.s[p.i:p.i+size]...)
			p.i += size
		}
	}
	return "", p.errAt(start, p.i, "unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}
