package cursor

import "strings"

// JSON (and JSONC) scanning. The same machine reads TOML inline tables and
// arrays, with '=' as the key separator and bare words as keys.

type tokKind int

const (
	tLBrace tokKind = iota
	tRBrace
	tLBrack
	tRBrack
	tSep // ':' (JSON) or '=' (TOML)
	tComma
	tString
	tWord     // a bare literal, number or unquoted key
	tTemplate // {{ ... }} used as a value
	tEOF
)

type token struct {
	kind       tokKind
	start, end int // byte span, quotes included
	closed     bool
}

type lexer struct {
	text string
	pos  int
	sep  byte
}

// next returns the next token; comments and {% %}/{# #} blocks are skipped.
func (l *lexer) next() token {
	for l.pos < len(l.text) {
		c := l.text[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.pos++
		case c == '/' && l.pos+1 < len(l.text) && l.text[l.pos+1] == '/' && l.sep == ':':
			l.skipLine()
		case c == '#' && l.sep == '=':
			l.skipLine()
		case c == '/' && l.pos+1 < len(l.text) && l.text[l.pos+1] == '*':
			l.skipTo("*/", 2)
		case c == '{' && l.pos+1 < len(l.text) && (l.text[l.pos+1] == '%' || l.text[l.pos+1] == '#'):
			closer := "%}"
			if l.text[l.pos+1] == '#' {
				closer = "#}"
			}
			l.skipTo(closer, 2)
		case c == '{' && l.pos+1 < len(l.text) && l.text[l.pos+1] == '{':
			start := l.pos
			i := strings.Index(l.text[l.pos+2:], "}}")
			if i < 0 {
				l.pos = len(l.text)
				return token{kind: tTemplate, start: start, end: l.pos}
			}
			l.pos += 2 + i + 2
			return token{kind: tTemplate, start: start, end: l.pos, closed: true}
		default:
			return l.single(c)
		}
	}
	return token{kind: tEOF, start: len(l.text), end: len(l.text)}
}

func (l *lexer) skipTo(closer string, skip int) {
	i := strings.Index(l.text[l.pos+skip:], closer)
	if i < 0 {
		l.pos = len(l.text)
		return
	}
	l.pos += skip + i + len(closer)
}

// skipLine moves to the end of the line ("\n", "\r\n" or a lone "\r").
func (l *lexer) skipLine() {
	i := strings.IndexAny(l.text[l.pos:], "\r\n")
	if i < 0 {
		l.pos = len(l.text)
		return
	}
	l.pos += i
}

func (l *lexer) single(c byte) token {
	start := l.pos
	switch c {
	case '{':
		l.pos++
		return token{kind: tLBrace, start: start, end: l.pos}
	case '}':
		l.pos++
		return token{kind: tRBrace, start: start, end: l.pos}
	case '[':
		l.pos++
		return token{kind: tLBrack, start: start, end: l.pos}
	case ']':
		l.pos++
		return token{kind: tRBrack, start: start, end: l.pos}
	case ',':
		l.pos++
		return token{kind: tComma, start: start, end: l.pos}
	case '"', '\'':
		return l.str(c)
	}
	if c == l.sep {
		l.pos++
		return token{kind: tSep, start: start, end: l.pos}
	}
	for l.pos < len(l.text) {
		c := l.text[l.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '{' || c == '}' ||
			c == '[' || c == ']' || c == l.sep || c == '"' {
			break
		}
		l.pos++
	}
	if l.pos == start {
		l.pos++ // never stall
	}
	return token{kind: tWord, start: start, end: l.pos}
}

// str reads a string; an unterminated string ends at the end of its line.
func (l *lexer) str(q byte) token {
	start := l.pos
	l.pos++
	for l.pos < len(l.text) {
		c := l.text[l.pos]
		switch {
		case c == '\\' && q == '"':
			l.pos += 2
		case c == q:
			l.pos++
			return token{kind: tString, start: start, end: l.pos, closed: true}
		case c == '\n' || c == '\r':
			return token{kind: tString, start: start, end: l.pos}
		default:
			l.pos++
		}
	}
	l.pos = len(l.text)
	return token{kind: tString, start: start, end: l.pos}
}

type jstate int

const (
	expectKey jstate = iota
	afterKey
	expectValue
	afterValue
)

// jframe is one open object or array. A frame holds only the step from its
// parent (seg); the path of the frame on top of the stack is built once,
// when the cursor is found (framePath), so scanning is linear in the depth
// of the document rather than copying the whole path at every level.
type jframe struct {
	root  bool // the pseudo frame holding the top-level value
	obj   bool
	seg   Seg  // the step from the parent frame
	inner bool // seg is set: false for root and the top-level value's frame
	state jstate
	key   string
	index int
	keys  []string
}

// unquote returns a string token's content (escapes left as written).
func unquote(text string, t token) string {
	s := text[t.start:t.end]
	if t.kind != tString || len(s) == 0 {
		return s
	}
	s = s[1:]
	if t.closed && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

// findJSON scans text for the cursor at off. sep is ':' for JSON and '='
// for TOML inline values; base is added to the returned offsets (the text
// may be a slice of a larger document) and prefix is the path of the value
// the text starts at.
func findJSON(text string, off int, sep byte, base int, prefix ...Seg) Context {
	lx := &lexer{text: text, sep: sep}
	root := &jframe{root: true, state: expectValue}
	stack := []*jframe{root}
	var found *Context
	var target *jframe
	targetDepth := 0
	excluded := ""

	for {
		t := lx.next()
		top := stack[len(stack)-1]
		if found == nil {
			if t.start >= off || t.kind == tEOF {
				ctx := between(top, framePath(stack, prefix), off, text)
				found = &ctx
				target, targetDepth = top, len(stack)-1
			} else if t.end >= off && (t.kind == tString || t.kind == tWord || t.kind == tTemplate) && t.start < off {
				ctx := inside(top, framePath(stack, prefix), t, off, text)
				found = &ctx
				target, targetDepth = top, len(stack)-1
				if ctx.Kind == Key {
					excluded = unquote(text, t) // the key being edited stays on offer
				}
			}
			if found != nil && found.Kind == Key {
				// HasSeparator: the token (or the cursor) is followed by the separator.
				rest := strings.TrimLeft(text[found.End:], " \t")
				found.HasSeparator = len(rest) > 0 && rest[0] == sep
			}
		}
		if t.kind == tEOF {
			break
		}
		stack = step(stack, t, text)
		if found != nil && (len(stack) <= targetDepth || stack[targetDepth] != target) {
			break // the target frame was closed: no more siblings
		}
	}
	if found == nil {
		return Context{}
	}
	ctx := *found
	if ctx.Kind == Key {
		for _, k := range target.keys {
			if k != excluded {
				ctx.Siblings = append(ctx.Siblings, k)
			}
		}
	}
	ctx.Start += base
	ctx.End += base
	if ctx.Kind == Value && len(ctx.Path) == 0 && sep == ':' {
		// The document root is an object; a bare value there is nothing.
		ctx.Kind = Nothing
	}
	return ctx
}

// framePath is the path of the frame on top of stack: prefix, then the
// step of every frame above the root.
func framePath(stack []*jframe, prefix []Seg) []Seg {
	out := make([]Seg, 0, len(prefix)+len(stack)-1)
	out = append(out, prefix...)
	for _, f := range stack[1:] {
		if f.inner {
			out = append(out, f.seg)
		}
	}
	return out
}

// between: the cursor sits in whitespace before token start.
func between(top *jframe, path []Seg, off int, text string) Context {
	ctx := Context{Start: off, End: off, Indent: lineIndent(text, off)}
	ctx.Kind, ctx.Path = top.slot(path, text, off)
	return ctx
}

// slot says what the cursor at off completes in frame f, whose path is
// path (owned by the caller's result): a key of the object, the value
// being written, or nothing.
func (f *jframe) slot(path []Seg, text string, off int) (Kind, []Seg) {
	switch {
	case f.obj && (f.state == expectKey || f.state == afterValue && onNewLine(text, off)):
		return Key, path
	case f.state == expectValue:
		return Value, valuePathOf(f, path)
	default:
		return Nothing, nil
	}
}

// onNewLine reports whether a line break separates off from the previous
// non-blank character (a new key typed without a comma yet).
func onNewLine(text string, off int) bool {
	for i := off - 1; i >= 0; i-- {
		switch text[i] {
		case ' ', '\t':
			continue
		case '\n', '\r':
			return true
		default:
			return false
		}
	}
	return false
}

func valuePathOf(f *jframe, path []Seg) []Seg {
	if f.obj {
		return append(path, Seg{Key: f.key})
	}
	if f.root {
		return path
	}
	return append(path, Seg{Index: f.index, IsIndex: true})
}

// inside: the cursor is within token t.
func inside(top *jframe, path []Seg, t token, off int, text string) Context {
	ctx := Context{Start: t.start, End: t.end, Indent: lineIndent(text, off)}
	if t.kind == tString {
		ctx.Quote = text[t.start]
		ctx.Prefix = text[t.start+1 : off]
	} else {
		ctx.Prefix = text[t.start:off]
	}
	if t.kind == tTemplate {
		ctx.Kind = Nothing
		return ctx
	}
	ctx.Kind, ctx.Path = top.slot(path, text, t.start)
	return ctx
}

// step advances the machine by one token.
func step(stack []*jframe, t token, text string) []*jframe {
	top := stack[len(stack)-1]
	switch t.kind {
	case tLBrace, tLBrack:
		nf := &jframe{obj: t.kind == tLBrace, state: expectValue}
		switch {
		case top.root:
		case top.obj:
			nf.seg, nf.inner = Seg{Key: top.key}, true
		default:
			nf.seg, nf.inner = Seg{Index: top.index, IsIndex: true}, true
		}
		top.state = afterValue
		if nf.obj {
			nf.state = expectKey
		}
		return append(stack, nf)
	case tRBrace, tRBrack:
		if len(stack) > 1 {
			return stack[:len(stack)-1]
		}
	case tSep:
		if top.obj && top.state == afterKey {
			top.state = expectValue
		}
	case tComma:
		if top.obj {
			top.state = expectKey
		} else {
			top.index++
			top.state = expectValue
		}
	case tString, tWord, tTemplate:
		switch {
		case top.obj && (top.state == expectKey || top.state == afterValue):
			top.key = unquote(text, t)
			top.keys = append(top.keys, top.key)
			top.state = afterKey
		case top.state == expectValue:
			top.state = afterValue
		}
	}
	return stack
}

// lineIndent is the column of the first non-blank character of off's line.
func lineIndent(text string, off int) int {
	start := strings.LastIndexAny(text[:off], "\r\n") + 1
	i := start
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i - start
}
