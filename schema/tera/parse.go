package tera

import (
	"fmt"
	"strconv"
	"strings"
)

// Expression AST. Every node knows its byte span in the source.

type expr interface {
	span() (start, end int)
}

type pos struct{ start, end int }

func (p pos) span() (int, int) { return p.start, p.end }

type (
	literal struct {
		pos
		v any
	}
	// variable is a name looked up in the context.
	variable struct {
		pos
		name string
	}
	// attrAccess is x.name.
	attrAccess struct {
		pos
		x    expr
		name string
	}
	// indexAccess is x[index].
	indexAccess struct {
		pos
		x, index expr
	}
	arrayLit struct {
		pos
		elems []expr
	}
	// funcCall is name(k=v, ...), a global function.
	funcCall struct {
		pos
		name    string
		nameEnd int
		args    []kwarg
	}
	unaryOp struct {
		pos
		op string // "not" or "-"
		x  expr
	}
	binaryOp struct {
		pos
		op   string // or and == != < > <= >= in "not in" + - * / % ~
		l, r expr
	}
	filtered struct {
		pos
		x       expr
		filters []filterCall
	}
	testExpr struct {
		pos
		x       expr
		name    string
		nameEnd int
		negated bool
		args    []expr
	}
)

type kwarg struct {
	pos
	name string
	v    expr
}

type filterCall struct {
	pos
	name    string
	nameEnd int
	args    []kwarg
}

// Template AST.

type node interface{}

type (
	textNode   struct{ start, end int }
	outputNode struct {
		tag pos
		e   expr
	}
	ifBranch struct {
		tag  pos
		cond expr
		body []node
	}
	ifNode struct {
		branches []ifBranch
		elseBody []node
	}
	forNode struct {
		tag       pos
		key, val  string // key is "" unless iterating key, value
		iter      expr
		body      []node
		emptyBody []node // the {% else %} body, nil without one
		end       pos    // the {% endfor %} tag
	}
	setNode struct {
		tag    pos
		name   string
		global bool
		e      expr
	}
	loopControl struct {
		tag     pos
		isBreak bool
	}
	filterBlock struct {
		tag  pos
		f    filterCall
		body []node
		end  pos
	}
)

// maxDepth bounds the nesting of expressions and of blocks, so a hostile
// template cannot exhaust the stack.
const maxDepth = 64

// parser builds the template AST from the scanned pieces.
type parser struct {
	src    string
	pieces []piece
	i      int
	depth  int // expression nesting
	blocks int // block nesting
	loops  int // number of enclosing for loops
}

func parseTemplate(src string) ([]node, *Error) {
	pieces, err := scan(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, pieces: pieces}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != nil {
		return nil, errAt(end.start, end.end, fmt.Sprintf("unexpected `{%% %s %%}`: there is no open block to close", end.toks[0].text))
	}
	return body, nil
}

// blockEnders are the tags that end a body; parseBody returns them.
var blockEnders = map[string]bool{"elif": true, "else": true, "endif": true, "endfor": true, "endfilter": true}

// unsupportedTags are Tera tags that cannot work in a config template.
var unsupportedTags = map[string]string{
	"include":  "templates cannot read files",
	"import":   "templates cannot read files",
	"extends":  "templates cannot read files",
	"block":    "template inheritance is not available in config files",
	"endblock": "template inheritance is not available in config files",
	"macro":    "macros are not supported",
	"endmacro": "macros are not supported",
}

// parseBody parses nodes until a block-ending tag (returned) or the end.
func (p *parser) parseBody() ([]node, *piece, *Error) {
	var body []node
	for p.i < len(p.pieces) {
		pc := &p.pieces[p.i]
		switch pc.kind {
		case pieceText, pieceRaw:
			p.i++
			if pc.start < pc.end {
				body = append(body, textNode{pc.start, pc.end})
			}
		case pieceComment:
			p.i++
		case pieceExpr:
			p.i++
			ts := &tokStream{toks: pc.toks, tagEnd: pc.end, src: p.src}
			if len(pc.toks) == 0 {
				return nil, nil, errAt(pc.start, pc.end, "empty expression: `{{ }}` needs something to print")
			}
			e, err := p.parseExpr(ts)
			if err != nil {
				return nil, nil, err
			}
			if err := ts.expectEnd("expression"); err != nil {
				return nil, nil, err
			}
			body = append(body, outputNode{pos{pc.start, pc.end}, e})
		case pieceTag:
			if len(pc.toks) == 0 || pc.toks[0].kind != tokIdent {
				return nil, nil, errAt(pc.start, pc.end, "expected a tag name such as `if`, `for` or `set` after `{%`")
			}
			name := pc.toks[0].text
			if blockEnders[name] {
				return body, pc, nil
			}
			p.i++
			n, err := p.parseTag(pc, name)
			if err != nil {
				return nil, nil, err
			}
			if n != nil {
				body = append(body, n)
			}
		}
	}
	return body, nil, nil
}

func (p *parser) enter(at pos) *Error {
	p.blocks++
	if p.blocks > maxDepth {
		return errAt(at.start, at.end, fmt.Sprintf("blocks are nested more than %d deep", maxDepth))
	}
	return nil
}

func (p *parser) parseTag(pc *piece, name string) (node, *Error) {
	tag := pos{pc.start, pc.end}
	ts := &tokStream{toks: pc.toks[1:], tagEnd: pc.end, src: p.src}
	switch name {
	case "if":
		return p.parseIf(pc, ts)
	case "for":
		return p.parseFor(pc, ts)
	case "set", "set_global":
		id, err := ts.expectIdent("a variable name after `" + name + "`")
		if err != nil {
			return nil, err
		}
		if err := ts.expectPunct("=", "`=` after the variable name"); err != nil {
			return nil, err
		}
		e, err := p.parseExpr(ts)
		if err != nil {
			return nil, err
		}
		if err := ts.expectEnd("`" + name + "`"); err != nil {
			return nil, err
		}
		return setNode{tag: tag, name: id.text, global: name == "set_global", e: e}, nil
	case "break", "continue":
		if err := ts.expectEnd("`" + name + "`"); err != nil {
			return nil, err
		}
		if p.loops == 0 {
			return nil, errAt(tag.start, tag.end, "`{% "+name+" %}` must be inside a `{% for %}` loop")
		}
		return loopControl{tag: tag, isBreak: name == "break"}, nil
	case "filter":
		return p.parseFilterBlock(pc, ts)
	case "raw":
		return nil, nil // the scanner already turned the block into text
	case "endraw":
		return nil, errAt(tag.start, tag.end, "unexpected `{% endraw %}`: there is no `{% raw %}` to close")
	}
	if why, ok := unsupportedTags[name]; ok {
		return nil, errAt(tag.start, tag.end, fmt.Sprintf("`{%% %s %%}` is not supported: %s", name, why))
	}
	return nil, errAt(pc.toks[0].start, pc.toks[0].end, fmt.Sprintf("unknown tag `%s`%s", name,
		didYouMean(name, []string{"if", "elif", "else", "endif", "for", "endfor", "set", "set_global", "break", "continue", "filter", "endfilter", "raw", "endraw"})))
}

func (p *parser) parseIf(pc *piece, ts *tokStream) (node, *Error) {
	if err := p.enter(pos{pc.start, pc.end}); err != nil {
		return nil, err
	}
	defer func() { p.blocks-- }()
	n := ifNode{}
	cur, curTs := pc, ts
	for {
		cond, err := p.parseExpr(curTs)
		if err != nil {
			return nil, err
		}
		if err := curTs.expectEnd("the condition"); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		n.branches = append(n.branches, ifBranch{tag: pos{cur.start, cur.end}, cond: cond, body: body})
		if end == nil {
			return nil, errAt(pc.start, pc.end, "`{% if %}` has no matching `{% endif %}`")
		}
		p.i++
		switch end.toks[0].text {
		case "elif":
			cur, curTs = end, &tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}
			continue
		case "else":
			if err := (&tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}).expectEnd("`else`"); err != nil {
				return nil, err
			}
			body, end2, err := p.parseBody()
			if err != nil {
				return nil, err
			}
			if end2 == nil {
				return nil, errAt(pc.start, pc.end, "`{% if %}` has no matching `{% endif %}`")
			}
			if end2.toks[0].text != "endif" {
				return nil, errAt(end2.start, end2.end, fmt.Sprintf("expected `{%% endif %%}` to close the `{%% if %%}` at offset %d, found `{%% %s %%}`", pc.start, end2.toks[0].text))
			}
			p.i++
			n.elseBody = body
			if err := (&tokStream{toks: end2.toks[1:], tagEnd: end2.end, src: p.src}).expectEnd("`endif`"); err != nil {
				return nil, err
			}
			return n, nil
		case "endif":
			if err := (&tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}).expectEnd("`endif`"); err != nil {
				return nil, err
			}
			return n, nil
		default:
			return nil, errAt(end.start, end.end, fmt.Sprintf("expected `{%% endif %%}` to close the `{%% if %%}`, found `{%% %s %%}`", end.toks[0].text))
		}
	}
}

func (p *parser) parseFor(pc *piece, ts *tokStream) (node, *Error) {
	if err := p.enter(pos{pc.start, pc.end}); err != nil {
		return nil, err
	}
	defer func() { p.blocks-- }()
	n := forNode{tag: pos{pc.start, pc.end}}
	first, err := ts.expectIdent("a loop variable after `for`")
	if err != nil {
		return nil, err
	}
	n.val = first.text
	if ts.acceptPunct(",") {
		second, err := ts.expectIdent("a second loop variable after `,`")
		if err != nil {
			return nil, err
		}
		n.key, n.val = first.text, second.text
	}
	if t := ts.peek(); t.kind != tokIdent || t.text != "in" {
		return nil, ts.errHere("expected `in` after the loop variable")
	}
	ts.advance()
	if n.iter, err = p.parseExpr(ts); err != nil {
		return nil, err
	}
	if err := ts.expectEnd("the `for` tag"); err != nil {
		return nil, err
	}
	p.loops++
	body, end, err := p.parseBody()
	p.loops--
	if err != nil {
		return nil, err
	}
	if end == nil {
		return nil, errAt(pc.start, pc.end, "`{% for %}` has no matching `{% endfor %}`")
	}
	if end.toks[0].text == "else" {
		// {% for %}…{% else %}…{% endfor %}: the else body renders when
		// the container is empty.
		if err := (&tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}).expectEnd("`else`"); err != nil {
			return nil, err
		}
		p.i++
		empty, end2, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if end2 == nil {
			return nil, errAt(pc.start, pc.end, "`{% for %}` has no matching `{% endfor %}`")
		}
		n.emptyBody, end = empty, end2
		if n.emptyBody == nil {
			n.emptyBody = []node{}
		}
	}
	if end.toks[0].text != "endfor" {
		return nil, errAt(end.start, end.end, fmt.Sprintf("expected `{%% endfor %%}` to close the `{%% for %%}`, found `{%% %s %%}`", end.toks[0].text))
	}
	if err := (&tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}).expectEnd("`endfor`"); err != nil {
		return nil, err
	}
	p.i++
	n.body = body
	n.end = pos{end.start, end.end}
	return n, nil
}

func (p *parser) parseFilterBlock(pc *piece, ts *tokStream) (node, *Error) {
	if err := p.enter(pos{pc.start, pc.end}); err != nil {
		return nil, err
	}
	defer func() { p.blocks-- }()
	f, err := p.parseFilterCall(ts)
	if err != nil {
		return nil, err
	}
	if err := ts.expectEnd("the `filter` tag"); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end == nil {
		return nil, errAt(pc.start, pc.end, "`{% filter %}` has no matching `{% endfilter %}`")
	}
	if end.toks[0].text != "endfilter" {
		return nil, errAt(end.start, end.end, fmt.Sprintf("expected `{%% endfilter %%}` to close the `{%% filter %%}`, found `{%% %s %%}`", end.toks[0].text))
	}
	if err := (&tokStream{toks: end.toks[1:], tagEnd: end.end, src: p.src}).expectEnd("`endfilter`"); err != nil {
		return nil, err
	}
	p.i++
	return filterBlock{tag: pos{pc.start, pc.end}, f: f, body: body, end: pos{end.start, end.end}}, nil
}

// tokStream is a cursor over a tag's tokens.
type tokStream struct {
	toks   []token
	i      int
	tagEnd int
	src    string
}

func (ts *tokStream) peek() token {
	if ts.i < len(ts.toks) {
		return ts.toks[ts.i]
	}
	return token{kind: tokEOF, start: ts.tagEnd, end: ts.tagEnd}
}

func (ts *tokStream) peekAt(k int) token {
	if ts.i+k < len(ts.toks) {
		return ts.toks[ts.i+k]
	}
	return token{kind: tokEOF, start: ts.tagEnd, end: ts.tagEnd}
}

func (ts *tokStream) advance() token {
	t := ts.peek()
	if ts.i < len(ts.toks) {
		ts.i++
	}
	return t
}

func (ts *tokStream) isPunct(s string) bool {
	t := ts.peek()
	return t.kind == tokPunct && t.text == s
}

func (ts *tokStream) isKeyword(s string) bool {
	t := ts.peek()
	return t.kind == tokIdent && t.text == s
}

func (ts *tokStream) acceptPunct(s string) bool {
	if ts.isPunct(s) {
		ts.i++
		return true
	}
	return false
}

// errHere reports an error at the current token (or at the tag's end).
func (ts *tokStream) errHere(msg string) *Error {
	t := ts.peek()
	if t.kind == tokEOF {
		return errAt(ts.tagEnd, ts.tagEnd, msg+", found the end of the tag")
	}
	return errAt(t.start, t.end, fmt.Sprintf("%s, found `%s`", msg, ts.src[t.start:t.end]))
}

func (ts *tokStream) expectPunct(s, what string) *Error {
	if !ts.acceptPunct(s) {
		return ts.errHere("expected " + what)
	}
	return nil
}

func (ts *tokStream) expectIdent(what string) (token, *Error) {
	t := ts.peek()
	if t.kind != tokIdent {
		return t, ts.errHere("expected " + what)
	}
	ts.i++
	return t, nil
}

func (ts *tokStream) expectEnd(what string) *Error {
	if ts.i < len(ts.toks) {
		return ts.errHere("unexpected token after " + what)
	}
	return nil
}

// Expressions, lowest precedence first:
//
//	or < and < not < comparison (== != < > <= >= in, not in)
//	   < ~ < + - < * / % < unary - < postfix (.name, [index]) < primary
//
// Filters (| f) and tests (is [not] t) apply to the whole concatenation or
// arithmetic on their left, as in Tera: `a ~ b | upper` is
// `(a ~ b) | upper`; arithmetic may continue after them: `x | length + 1`
// is `(x | length) + 1`.

func (p *parser) parseExpr(ts *tokStream) (expr, *Error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		t := ts.peek()
		return nil, errAt(t.start, t.end, fmt.Sprintf("expression is nested more than %d deep", maxDepth))
	}
	return p.parseOr(ts)
}

func join(l, r expr) pos {
	s, _ := l.span()
	_, e := r.span()
	return pos{s, e}
}

func (p *parser) parseOr(ts *tokStream) (expr, *Error) {
	l, err := p.parseAnd(ts)
	if err != nil {
		return nil, err
	}
	for ts.isKeyword("or") {
		ts.advance()
		r, err := p.parseAnd(ts)
		if err != nil {
			return nil, err
		}
		l = &binaryOp{join(l, r), "or", l, r}
	}
	return l, nil
}

func (p *parser) parseAnd(ts *tokStream) (expr, *Error) {
	l, err := p.parseNot(ts)
	if err != nil {
		return nil, err
	}
	for ts.isKeyword("and") {
		ts.advance()
		r, err := p.parseNot(ts)
		if err != nil {
			return nil, err
		}
		l = &binaryOp{join(l, r), "and", l, r}
	}
	return l, nil
}

func (p *parser) parseNot(ts *tokStream) (expr, *Error) {
	if ts.isKeyword("not") {
		t := ts.advance()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errAt(t.start, t.end, fmt.Sprintf("expression is nested more than %d deep", maxDepth))
		}
		x, err := p.parseNot(ts)
		if err != nil {
			return nil, err
		}
		_, end := x.span()
		return &unaryOp{pos{t.start, end}, "not", x}, nil
	}
	return p.parseComparison(ts)
}

var comparisonOps = map[string]bool{"==": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true}

func (p *parser) parseComparison(ts *tokStream) (expr, *Error) {
	l, err := p.parseConcat(ts)
	if err != nil {
		return nil, err
	}
	t := ts.peek()
	op := ""
	switch {
	case t.kind == tokPunct && comparisonOps[t.text]:
		op = t.text
		ts.advance()
	case t.kind == tokIdent && t.text == "in":
		op = "in"
		ts.advance()
	case t.kind == tokIdent && t.text == "not" && ts.peekAt(1).kind == tokIdent && ts.peekAt(1).text == "in":
		op = "not in"
		ts.advance()
		ts.advance()
	default:
		return l, nil
	}
	r, err := p.parseConcat(ts)
	if err != nil {
		return nil, err
	}
	return &binaryOp{join(l, r), op, l, r}, nil
}

// parseConcat parses `~` (below + and -, so `"v" ~ 1 + 2` is "v3") and the
// filters and tests that apply to everything on their left.
func (p *parser) parseConcat(ts *tokStream) (expr, *Error) {
	l, err := p.parseAdditive(ts)
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case ts.isPunct("~"):
			ts.advance()
			r, err := p.parseAdditive(ts)
			if err != nil {
				return nil, err
			}
			l = &binaryOp{join(l, r), "~", l, r}
		case ts.isPunct("+") || ts.isPunct("-"):
			// Only reachable after a filter or test: `x | length + 1`.
			op := ts.advance().text
			r, err := p.parseMultiplicative(ts)
			if err != nil {
				return nil, err
			}
			l = &binaryOp{join(l, r), op, l, r}
		case ts.isPunct("*") || ts.isPunct("/") || ts.isPunct("%"):
			op := ts.advance().text
			r, err := p.parseUnary(ts)
			if err != nil {
				return nil, err
			}
			l = &binaryOp{join(l, r), op, l, r}
		case ts.isPunct("|") || ts.isKeyword("is"):
			if l, err = p.parseFiltersAndTests(ts, l); err != nil {
				return nil, err
			}
		default:
			return l, nil
		}
	}
}

func (p *parser) parseAdditive(ts *tokStream) (expr, *Error) {
	l, err := p.parseMultiplicative(ts)
	if err != nil {
		return nil, err
	}
	for ts.isPunct("+") || ts.isPunct("-") {
		op := ts.advance().text
		r, err := p.parseMultiplicative(ts)
		if err != nil {
			return nil, err
		}
		l = &binaryOp{join(l, r), op, l, r}
	}
	return l, nil
}

func (p *parser) parseMultiplicative(ts *tokStream) (expr, *Error) {
	l, err := p.parseUnary(ts)
	if err != nil {
		return nil, err
	}
	for ts.isPunct("*") || ts.isPunct("/") || ts.isPunct("%") {
		op := ts.advance().text
		r, err := p.parseUnary(ts)
		if err != nil {
			return nil, err
		}
		l = &binaryOp{join(l, r), op, l, r}
	}
	return l, nil
}

// parseFiltersAndTests parses `| filter ...` and `is [not] test` after an
// arithmetic expression.
func (p *parser) parseFiltersAndTests(ts *tokStream, x expr) (expr, *Error) {
	if ts.isPunct("|") {
		f := &filtered{x: x}
		for ts.acceptPunct("|") {
			fc, err := p.parseFilterCall(ts)
			if err != nil {
				return nil, err
			}
			f.filters = append(f.filters, fc)
		}
		start, _ := x.span()
		f.pos = pos{start, f.filters[len(f.filters)-1].end}
		x = f
	}
	if ts.isKeyword("is") {
		ts.advance()
		t := &testExpr{x: x}
		if ts.isKeyword("not") {
			ts.advance()
			t.negated = true
		}
		name, err := ts.expectIdent("a test name such as `defined` after `is`")
		if err != nil {
			return nil, err
		}
		if _, ok := tests[name.text]; !ok {
			return nil, errAt(name.start, name.end, fmt.Sprintf("Test `%s` not found%s", name.text, didYouMean(name.text, testNames())))
		}
		t.name, t.nameEnd = name.text, name.end
		end := name.end
		if ts.acceptPunct("(") {
			for !ts.isPunct(")") {
				a, err := p.parseExpr(ts)
				if err != nil {
					return nil, err
				}
				t.args = append(t.args, a)
				if !ts.acceptPunct(",") {
					break
				}
			}
			end = ts.peek().end
			if err := ts.expectPunct(")", "`)` to close the test's arguments"); err != nil {
				return nil, err
			}
		}
		if want := tests[t.name].nargs; len(t.args) != want {
			return nil, errAt(name.start, end, fmt.Sprintf("test `%s` takes %d argument(s), got %d", t.name, want, len(t.args)))
		}
		start, _ := x.span()
		t.pos = pos{start, end}
		x = t
	}
	return x, nil
}

func (p *parser) parseFilterCall(ts *tokStream) (filterCall, *Error) {
	name, err := ts.expectIdent("a filter name")
	if err != nil {
		return filterCall{}, err
	}
	fc := filterCall{pos: pos{name.start, name.end}, name: name.text, nameEnd: name.end}
	if colon := ts.peek(); colon.kind == tokPunct && colon.text == ":" {
		return filterCall{}, errAt(name.start, colon.end, fmt.Sprintf("`%s:` is Django/pongo2 syntax; Tera filters take keyword arguments, e.g. `%s`", name.text, filterExample(name.text)))
	}
	if ts.isPunct("(") {
		args, end, err := p.parseKwargs(ts, "filter `"+name.text+"`")
		if err != nil {
			return filterCall{}, err
		}
		fc.args, fc.end = args, end
	}
	f, ok := filters[fc.name]
	if !ok {
		return filterCall{}, errAt(name.start, name.end, fmt.Sprintf("Filter `%s` not found%s", fc.name, didYouMean(fc.name, filterNames())))
	}
	if err := checkArgs("filter `"+fc.name+"`", f.params, fc.args, fc.pos); err != nil {
		return filterCall{}, err
	}
	return fc, nil
}

// parseKwargs parses `(name=expr, ...)`; the current token is `(`.
func (p *parser) parseKwargs(ts *tokStream, what string) ([]kwarg, int, *Error) {
	ts.advance()
	var args []kwarg
	for !ts.isPunct(")") {
		name := ts.peek()
		if name.kind != tokIdent || !(ts.peekAt(1).kind == tokPunct && ts.peekAt(1).text == "=") {
			return nil, 0, ts.errHere("expected a keyword argument `name=value` for " + what + " (Tera passes arguments by name)")
		}
		ts.advance()
		ts.advance()
		v, err := p.parseExpr(ts)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range args {
			if a.name == name.text {
				return nil, 0, errAt(name.start, name.end, fmt.Sprintf("argument `%s` is given twice to %s", name.text, what))
			}
		}
		_, vend := v.span()
		args = append(args, kwarg{pos{name.start, vend}, name.text, v})
		if !ts.acceptPunct(",") {
			break
		}
	}
	end := ts.peek().end
	if err := ts.expectPunct(")", "`,` or `)` in the arguments of "+what); err != nil {
		return nil, 0, err
	}
	return args, end, nil
}

func (p *parser) parseUnary(ts *tokStream) (expr, *Error) {
	if ts.isPunct("-") {
		t := ts.advance()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errAt(t.start, t.end, fmt.Sprintf("expression is nested more than %d deep", maxDepth))
		}
		x, err := p.parseUnary(ts)
		if err != nil {
			return nil, err
		}
		_, end := x.span()
		// Fold negative number literals, so -9223372036854775808 works.
		if lit, ok := x.(*literal); ok {
			switch v := lit.v.(type) {
			case int64:
				return &literal{pos{t.start, end}, -v}, nil
			case float64:
				return &literal{pos{t.start, end}, -v}, nil
			}
		}
		return &unaryOp{pos{t.start, end}, "-", x}, nil
	}
	return p.parsePostfix(ts)
}

func (p *parser) parsePostfix(ts *tokStream) (expr, *Error) {
	x, err := p.parsePrimary(ts)
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case ts.isPunct("."):
			ts.advance()
			t := ts.peek()
			if t.kind == tokFloat && !strings.ContainsAny(t.text, "eE") {
				// `list.0.1` lexes as list . 0.1
				ts.advance()
				first, second, _ := strings.Cut(t.text, ".")
				start, _ := x.span()
				mid := t.start + len(first)
				x = &attrAccess{pos{start, mid}, x, first}
				x = &attrAccess{pos{start, t.end}, x, second}
				continue
			}
			if t.kind != tokIdent && t.kind != tokInt {
				return nil, ts.errHere("expected a field name after `.`")
			}
			ts.advance()
			start, _ := x.span()
			x = &attrAccess{pos{start, t.end}, x, t.text}
		case ts.isPunct("["):
			ts.advance()
			idx, err := p.parseExpr(ts)
			if err != nil {
				return nil, err
			}
			end := ts.peek().end
			if err := ts.expectPunct("]", "`]`"); err != nil {
				return nil, err
			}
			start, _ := x.span()
			x = &indexAccess{pos{start, end}, x, idx}
		default:
			return x, nil
		}
	}
}

func (p *parser) parsePrimary(ts *tokStream) (expr, *Error) {
	t := ts.peek()
	switch t.kind {
	case tokString:
		ts.advance()
		return &literal{pos{t.start, t.end}, t.text}, nil
	case tokInt:
		ts.advance()
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(t.text, 64)
			if ferr != nil {
				return nil, errAt(t.start, t.end, "number `"+t.text+"` is out of range")
			}
			return &literal{pos{t.start, t.end}, f}, nil
		}
		return &literal{pos{t.start, t.end}, v}, nil
	case tokFloat:
		ts.advance()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errAt(t.start, t.end, "number `"+t.text+"` is out of range")
		}
		return &literal{pos{t.start, t.end}, f}, nil
	case tokIdent:
		ts.advance()
		switch t.text {
		case "true", "True":
			return &literal{pos{t.start, t.end}, true}, nil
		case "false", "False":
			return &literal{pos{t.start, t.end}, false}, nil
		case "and", "or", "not", "in", "is":
			return nil, errAt(t.start, t.end, "expected a value, found the keyword `"+t.text+"`")
		}
		if ts.isPunct("(") {
			args, end, err := p.parseKwargs(ts, "function `"+t.text+"`")
			if err != nil {
				return nil, err
			}
			fn, ok := functions[t.text]
			if !ok {
				hint := didYouMean(t.text, functionNames())
				if hint == "" {
					hint = "; the functions are " + strings.Join(functionNames(), ", ")
				}
				return nil, errAt(t.start, t.end, fmt.Sprintf("Function `%s` not found%s", t.text, hint))
			}
			if err := checkArgs("function `"+t.text+"`", fn.params, args, pos{t.start, end}); err != nil {
				return nil, err
			}
			return &funcCall{pos{t.start, end}, t.text, t.end, args}, nil
		}
		return &variable{pos{t.start, t.end}, t.text}, nil
	case tokPunct:
		switch t.text {
		case "(":
			ts.advance()
			x, err := p.parseExpr(ts)
			if err != nil {
				return nil, err
			}
			if err := ts.expectPunct(")", "`)`"); err != nil {
				return nil, err
			}
			return x, nil
		case "[":
			ts.advance()
			arr := &arrayLit{}
			for !ts.isPunct("]") {
				e, err := p.parseExpr(ts)
				if err != nil {
					return nil, err
				}
				arr.elems = append(arr.elems, e)
				if !ts.acceptPunct(",") {
					break
				}
			}
			end := ts.peek().end
			if err := ts.expectPunct("]", "`,` or `]` in the array"); err != nil {
				return nil, err
			}
			arr.pos = pos{t.start, end}
			return arr, nil
		}
	}
	return nil, ts.errHere("expected a value (a variable, literal, function call or `(`)")
}

// didYouMean suggests the closest known name, or returns "".
func didYouMean(name string, known []string) string {
	best, bestDist := "", len(name)/3+2
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestDist && d < len(name) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean `%s`?", best)
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost 1.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// checkArgs checks keyword arguments against a function's or filter's
// parameters: every name must be known and every required one given.
func checkArgs(what string, params []param, args []kwarg, call pos) *Error {
	for _, a := range args {
		known := false
		for _, p := range params {
			if p.name == a.name {
				known = true
				break
			}
		}
		if !known {
			end := a.start + len(a.name)
			if len(params) == 0 {
				return errAt(a.start, end, fmt.Sprintf("%s takes no arguments", what))
			}
			names := make([]string, len(params))
			for i, p := range params {
				names[i] = p.name
			}
			return errAt(a.start, end, fmt.Sprintf("%s has no argument `%s`%s (it takes: %s)", what, a.name, didYouMean(a.name, names), strings.Join(names, ", ")))
		}
	}
	for _, p := range params {
		if !p.required {
			continue
		}
		found := false
		for _, a := range args {
			if a.name == p.name {
				found = true
				break
			}
		}
		if !found {
			return errAt(call.start, call.end, fmt.Sprintf("%s needs the argument `%s`", what, p.name))
		}
	}
	return nil
}

// filterExample is how a filter is called in Tera, for error messages.
func filterExample(name string) string {
	if f, ok := filters[name]; ok {
		return f.doc.Signature
	}
	return name + "(name=value)"
}
