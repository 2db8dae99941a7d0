package schema

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckJSONPath reports whether q is a syntactically valid RFC 9535
// JSONPath query, as mirrord requires of body_filter.query. It accepts the
// standard function extensions (length, count, match, search, value) and
// mirrord's typeof, with their arities. Type rules beyond arity are not
// checked.
func CheckJSONPath(q string) error {
	p := &jsonPathParser{s: q}
	if !p.eat("$") {
		return p.fail("a query must start with `$`")
	}
	if err := p.segments(); err != nil {
		return err
	}
	if p.i < len(p.s) {
		return p.fail("unexpected %q", p.rest())
	}
	return nil
}

// jsonPathFunctions maps the known functions to their arity.
var jsonPathFunctions = map[string]int{"length": 1, "count": 1, "match": 2, "search": 2, "value": 1, "typeof": 1}

// maxJSONPathDepth bounds nesting of filters and parentheses.
const maxJSONPathDepth = 64

type jsonPathParser struct {
	s     string
	i     int
	depth int
}

func (p *jsonPathParser) fail(format string, args ...any) error {
	return fmt.Errorf("at byte %d of `%s`: %s", p.i, p.s, fmt.Sprintf(format, args...))
}

func (p *jsonPathParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return r
}

func (p *jsonPathParser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *jsonPathParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *jsonPathParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

// segments parses *(S segment); it stops before anything that is not a
// segment (the caller decides whether that is an error).
func (p *jsonPathParser) segments() error {
	for {
		save := p.i
		p.space()
		switch {
		case p.eat(".."):
			if p.peek() == '[' {
				if err := p.bracketed(); err != nil {
					return err
				}
			} else if !p.eat("*") && !p.memberName() {
				return p.fail("expected a name, `*` or `[` after `..`")
			}
		case p.eat("."):
			if !p.eat("*") && !p.memberName() {
				return p.fail("expected a member name or `*` after `.`")
			}
		case p.peek() == '[':
			if err := p.bracketed(); err != nil {
				return err
			}
		default:
			p.i = save
			return nil
		}
	}
}

func isNameFirst(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80
}

func (p *jsonPathParser) memberName() bool {
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	if size == 0 || !isNameFirst(r) || r == utf8.RuneError {
		return false
	}
	p.i += size
	for p.i < len(p.s) {
		r, size = utf8.DecodeRuneInString(p.s[p.i:])
		if !isNameFirst(r) && !(r >= '0' && r <= '9') || r == utf8.RuneError {
			break
		}
		p.i += size
	}
	return true
}

func (p *jsonPathParser) bracketed() error {
	p.i++ // [
	for {
		p.space()
		if err := p.selector(); err != nil {
			return err
		}
		p.space()
		if p.eat("]") {
			return nil
		}
		if !p.eat(",") {
			return p.fail("expected `,` or `]` in a bracketed selection")
		}
	}
}

func (p *jsonPathParser) selector() error {
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		return p.stringLiteral()
	case c == '*':
		p.i++
		return nil
	case c == '?':
		p.i++
		p.space()
		return p.logicalOr()
	case c == ':' || c == '-' || c >= '0' && c <= '9':
		return p.indexOrSlice()
	}
	return p.fail("expected a selector (a quoted name, `*`, an index, a slice or `?filter`)")
}

// integer parses int = "0" / ["-"] DIGIT1 *DIGIT.
func (p *jsonPathParser) integer() bool {
	start := p.i
	p.eat("-")
	if p.peek() == '0' {
		p.i++
		if p.s[start] == '-' {
			p.i = start
			return false // -0 is not an int
		}
		return true
	}
	if c := p.peek(); c < '1' || c > '9' {
		p.i = start
		return false
	}
	for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
		p.i++
	}
	return true
}

func (p *jsonPathParser) indexOrSlice() error {
	hasStart := p.integer()
	p.space()
	if !p.eat(":") {
		if !hasStart {
			return p.fail("expected an index or a slice")
		}
		return nil
	}
	p.space()
	p.integer()
	p.space()
	if p.eat(":") {
		p.space()
		p.integer()
	}
	return nil
}

func (p *jsonPathParser) stringLiteral() error {
	quote := p.s[p.i]
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == quote:
			p.i++
			return nil
		case c == '\\':
			p.i++
			if p.i >= len(p.s) {
				return p.fail("unterminated escape")
			}
			switch e := p.s[p.i]; e {
			case 'b', 'f', 'n', 'r', 't', '/', '\\', '\'', '"':
				if (e == '\'' || e == '"') && e != quote {
					return p.fail("invalid escape `\\%c` in a %c-quoted string", e, quote)
				}
				p.i++
			case 'u':
				if p.i+5 > len(p.s) || !isHex4(p.s[p.i+1:p.i+5]) {
					return p.fail("invalid \\u escape")
				}
				p.i += 5
			default:
				return p.fail("invalid escape `\\%c`", e)
			}
		case c < 0x20:
			return p.fail("control character in a string")
		default:
			p.i++
		}
	}
	return p.fail("unterminated string")
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (p *jsonPathParser) enter() error {
	p.depth++
	if p.depth > maxJSONPathDepth {
		return p.fail("the filter is nested too deeply")
	}
	return nil
}

func (p *jsonPathParser) logicalOr() error {
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	for {
		if err := p.logicalAnd(); err != nil {
			return err
		}
		save := p.i
		p.space()
		if !p.eat("||") {
			p.i = save
			return nil
		}
		p.space()
	}
}

func (p *jsonPathParser) logicalAnd() error {
	for {
		if err := p.basic(); err != nil {
			return err
		}
		save := p.i
		p.space()
		if !p.eat("&&") {
			p.i = save
			return nil
		}
		p.space()
	}
}

// basic parses a parenthesised expression, a test or a comparison.
func (p *jsonPathParser) basic() error {
	if p.eat("!") {
		p.space()
		if p.eat("(") {
			return p.paren()
		}
		kind, err := p.operand()
		if err != nil {
			return err
		}
		if kind == operandLiteral {
			return p.fail("`!` needs a query or a function")
		}
		return nil
	}
	if p.eat("(") {
		return p.paren()
	}
	kind, err := p.operand()
	if err != nil {
		return err
	}
	save := p.i
	p.space()
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.eat(op) {
			p.space()
			// Comparisons need singular queries; that type rule is not checked.
			_, err := p.operand()
			return err
		}
	}
	p.i = save
	if kind == operandLiteral {
		return p.fail("a literal alone is not a test; compare it with `==`, `<`, …")
	}
	return nil
}

func (p *jsonPathParser) paren() error {
	p.space()
	if err := p.logicalOr(); err != nil {
		return err
	}
	p.space()
	if !p.eat(")") {
		return p.fail("expected `)`")
	}
	return nil
}

type operandKind int

const (
	operandLiteral operandKind = iota
	operandQuery
	operandFunction
)

// operand parses a literal, a query (@… or $…) or a function call.
func (p *jsonPathParser) operand() (operandKind, error) {
	switch c := p.peek(); {
	case c == '@' || c == '$':
		p.i++
		return operandQuery, p.segments()
	case c == '\'' || c == '"':
		return operandLiteral, p.stringLiteral()
	case c == '-' || c >= '0' && c <= '9':
		return operandLiteral, p.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if p.eat(lit) {
			return operandLiteral, nil
		}
	}
	start := p.i
	for c := p.peek(); c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9' && p.i > start; c = p.peek() {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return 0, p.fail("expected a query, a literal or a function")
	}
	if !p.eat("(") {
		return 0, p.fail("unknown word `%s`", name)
	}
	arity, ok := jsonPathFunctions[name]
	if !ok {
		return 0, p.fail("unknown function `%s` (known: count, length, match, search, typeof, value)", name)
	}
	n := 0
	p.space()
	if !p.eat(")") {
		for {
			if err := p.argument(); err != nil {
				return 0, err
			}
			n++
			p.space()
			if p.eat(")") {
				break
			}
			if !p.eat(",") {
				return 0, p.fail("expected `,` or `)` in the arguments of `%s`", name)
			}
			p.space()
		}
	}
	if n != arity {
		return 0, p.fail("`%s` takes %d argument(s), found %d", name, arity, n)
	}
	return operandFunction, nil
}

// argument parses a function argument: a literal, a query, a function
// call or a logical expression.
func (p *jsonPathParser) argument() error {
	save := p.i
	if _, err := p.operand(); err == nil {
		end := p.i
		p.space()
		if c := p.peek(); c == ',' || c == ')' {
			p.i = end
			return nil
		}
	}
	p.i = save
	return p.logicalOr()
}

// number parses an RFC 9535 number: (int / "-0") [frac] [exp].
func (p *jsonPathParser) number() error {
	if !p.eat("-0") && !p.integer() {
		return p.fail("invalid number")
	}
	if p.eat(".") {
		if c := p.peek(); c < '0' || c > '9' {
			return p.fail("expected a digit after `.`")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if c := p.peek(); c < '0' || c > '9' {
			return p.fail("expected a digit in the exponent")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	return nil
}
