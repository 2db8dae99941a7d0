package tera

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// pieceKind is the kind of a top-level piece of a template.
type pieceKind int

const (
	pieceText    pieceKind = iota // literal text
	pieceExpr                     // {{ ... }}
	pieceTag                      // {% ... %}
	pieceComment                  // {# ... #}
	pieceRaw                      // the text of a {% raw %} block
)

// piece is one top-level element of a template. Start and End span the
// whole element in the source (delimiters included); for text and raw
// pieces they span the text after whitespace control was applied.
type piece struct {
	kind       pieceKind
	start, end int
	toks       []token // the tokens inside {{ }} or {% %}
	trimBefore bool    // opened with {{- {%- {#-
	trimAfter  bool    // closed with -}} -%} -#}
}

// tokKind is the kind of a token inside a tag.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokInt
	tokFloat
	tokString
	tokPunct // operators and punctuation
)

type token struct {
	kind       tokKind
	start, end int    // byte span in the source
	text       string // identifier, punctuation, or string contents (no quotes)
}

// scanner splits a template into pieces.
type scanner struct {
	src    string
	pieces []piece
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scan splits src into pieces and applies whitespace control.
func scan(src string) ([]piece, *Error) {
	s := &scanner{src: src}
	if err := s.run(); err != nil {
		return nil, err
	}
	s.applyWhitespaceControl()
	return s.pieces, nil
}

func (s *scanner) run() *Error {
	src := s.src
	i := 0
	textStart := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 {
			break
		}
		i += j
		if i+1 >= len(src) {
			break
		}
		switch src[i+1] {
		case '{', '%', '#':
		default:
			i++
			continue
		}
		if textStart < i {
			s.pieces = append(s.pieces, piece{kind: pieceText, start: textStart, end: i})
		}
		next, err := s.scanTag(i)
		if err != nil {
			return err
		}
		i = next
		textStart = i
	}
	if textStart < len(src) {
		s.pieces = append(s.pieces, piece{kind: pieceText, start: textStart, end: len(src)})
	}
	return nil
}

// scanTag scans the tag starting at src[start] ("{{", "{%" or "{#") and
// returns the offset after it.
func (s *scanner) scanTag(start int) (int, *Error) {
	src := s.src
	open := src[start+1]
	p := piece{start: start}
	i := start + 2
	if i < len(src) && src[i] == '-' {
		p.trimBefore = true
		i++
	}
	if open == '#' {
		j := strings.Index(src[i:], "#}")
		if j < 0 {
			return 0, errAt(start, start+2, "unclosed comment: `{#` has no matching `#}`")
		}
		end := i + j
		p.trimAfter = end > i && src[end-1] == '-'
		p.kind = pieceComment
		p.end = end + 2
		s.pieces = append(s.pieces, p)
		return p.end, nil
	}
	closer := byte('}')
	p.kind = pieceExpr
	name := "`{{`"
	if open == '%' {
		closer = '%'
		p.kind = pieceTag
		name = "`{%`"
	}
	lx := tagLexer{src: src, pos: i}
	for {
		lx.skipSpace()
		if lx.pos >= len(src) {
			want := "}}"
			if open == '%' {
				want = "%}"
			}
			return 0, errAt(start, start+2, "unclosed tag: "+name+" has no matching `"+want+"`")
		}
		c := src[lx.pos]
		if c == '-' && lx.pos+2 < len(src) && src[lx.pos+1] == closer && src[lx.pos+2] == '}' {
			p.trimAfter = true
			p.end = lx.pos + 3
			break
		}
		if c == closer && lx.pos+1 < len(src) && src[lx.pos+1] == '}' {
			p.end = lx.pos + 2
			break
		}
		t, err := lx.next()
		if err != nil {
			return 0, err
		}
		p.toks = append(p.toks, t)
	}
	s.pieces = append(s.pieces, p)
	if p.kind == pieceTag && len(p.toks) == 1 && p.toks[0].kind == tokIdent && p.toks[0].text == "raw" {
		return s.scanRaw(p)
	}
	return p.end, nil
}

// scanRaw finds the {% endraw %} that closes the raw tag p and records the
// text between them as a raw piece.
func (s *scanner) scanRaw(open piece) (int, *Error) {
	src := s.src
	i := open.end
	for {
		j := strings.Index(src[i:], "{%")
		if j < 0 {
			return 0, errAt(open.start, open.end, "`{% raw %}` has no matching `{% endraw %}`")
		}
		tagStart := i + j
		k := tagStart + 2
		trimBefore := false
		if k < len(src) && src[k] == '-' {
			trimBefore = true
			k++
		}
		for k < len(src) && isSpaceByte(src[k]) {
			k++
		}
		if !strings.HasPrefix(src[k:], "endraw") {
			i = tagStart + 2
			continue
		}
		k += len("endraw")
		for k < len(src) && isSpaceByte(src[k]) {
			k++
		}
		trimAfter := false
		if k < len(src) && src[k] == '-' {
			trimAfter = true
			k++
		}
		if !strings.HasPrefix(src[k:], "%}") {
			i = tagStart + 2
			continue
		}
		end := k + 2
		// The raw text, with the raw tags' inner whitespace control.
		s.pieces = append(s.pieces, piece{kind: pieceRaw, start: open.end, end: tagStart,
			trimBefore: trimBefore})
		s.pieces = append(s.pieces, piece{kind: pieceComment, start: tagStart, end: end,
			trimBefore: trimBefore, trimAfter: trimAfter})
		return end, nil
	}
}

// applyWhitespaceControl trims text next to tags with '-' markers: `{%-`
// trims the whitespace before the tag, `-%}` the whitespace after it.
func (s *scanner) applyWhitespaceControl() {
	ps := s.pieces
	for i := range ps {
		if ps[i].kind != pieceText && ps[i].kind != pieceRaw {
			continue
		}
		if i > 0 && ps[i-1].trimAfter {
			t := s.src[ps[i].start:ps[i].end]
			ps[i].start += len(t) - len(strings.TrimLeftFunc(t, unicode.IsSpace))
		}
		if i+1 < len(ps) && ps[i+1].trimBefore {
			t := s.src[ps[i].start:ps[i].end]
			ps[i].end -= len(t) - len(strings.TrimRightFunc(t, unicode.IsSpace))
		}
	}
}

// tagLexer produces the tokens inside a tag.
type tagLexer struct {
	src string
	pos int
}

func (lx *tagLexer) skipSpace() {
	for lx.pos < len(lx.src) && isSpaceByte(lx.src[lx.pos]) {
		lx.pos++
	}
}

// twoCharOps are the operators made of two characters.
var twoCharOps = [...]string{"==", "!=", "<=", ">="}

func (lx *tagLexer) next() (token, *Error) {
	src := lx.src
	start := lx.pos
	c := src[start]
	switch {
	case c == '"' || c == '\'' || c == '`':
		end := strings.IndexByte(src[start+1:], c)
		if end < 0 {
			return token{}, errAt(start, start+1, "unterminated string literal")
		}
		lx.pos = start + 1 + end + 1
		return token{kind: tokString, start: start, end: lx.pos, text: src[start+1 : start+1+end]}, nil
	case c == '_' || isASCIILetter(c):
		i := start + 1
		for i < len(src) && (src[i] == '_' || isASCIILetter(src[i]) || isDigit(src[i])) {
			i++
		}
		lx.pos = i
		return token{kind: tokIdent, start: start, end: i, text: src[start:i]}, nil
	case isDigit(c):
		i := start + 1
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		kind := tokInt
		if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
			kind = tokFloat
			i++
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		}
		if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
			j := i + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && isDigit(src[j]) {
				kind = tokFloat
				i = j
				for i < len(src) && isDigit(src[i]) {
					i++
				}
			}
		}
		lx.pos = i
		return token{kind: kind, start: start, end: i, text: src[start:i]}, nil
	}
	for _, op := range twoCharOps {
		if strings.HasPrefix(src[start:], op) {
			lx.pos = start + 2
			return token{kind: tokPunct, start: start, end: lx.pos, text: op}, nil
		}
	}
	if strings.IndexByte("+-*/%~<>()[],.|=:", c) >= 0 {
		lx.pos = start + 1
		return token{kind: tokPunct, start: start, end: lx.pos, text: src[start:lx.pos]}, nil
	}
	r, size := utf8.DecodeRuneInString(src[start:])
	if r == utf8.RuneError && size <= 1 {
		size = 1
		return token{}, errAt(start, start+size, "invalid UTF-8 in a tag")
	}
	return token{}, errAt(start, start+size, "unexpected character `"+string(r)+"` in a tag")
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
