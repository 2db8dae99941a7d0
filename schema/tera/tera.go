package tera

import (
	"fmt"
	"os"
	"strings"
)

// Context is what a template can see.
type Context struct {
	// Vars are the template variables, e.g. "key" and "git_branch". A name
	// that is absent is undefined: referencing it is an error, unless it is
	// guarded (`is defined`, `| default(value=...)`, a bare `{% if name %}`).
	Vars map[string]any
	// LookupEnv backs get_env(); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Output is a rendered template.
type Output struct {
	Text string
	Map  *SourceMap
}

// Error is a template parse or render error. Start and End are byte offsets
// of the offending text in the original template.
type Error struct {
	Start, End int
	Message    string

	line, col int  // 1-based; filled in by Render
	undefined bool // a "variable not found" error
}

func errAt(start, end int, msg string) *Error {
	if end < start {
		end = start
	}
	return &Error{Start: start, End: end, Message: msg}
}

// Error returns "line:col: message" with a 1-based line and byte column.
func (e *Error) Error() string {
	if e.line == 0 {
		return fmt.Sprintf("offset %d: %s", e.Start, e.Message)
	}
	return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.Message)
}

func (e *Error) locate(src string) *Error {
	e.Start = clamp(e.Start, len(src))
	e.End = clamp(e.End, len(src))
	if e.End < e.Start {
		e.End = e.Start
	}
	e.line = 1 + strings.Count(src[:e.Start], "\n")
	e.col = e.Start - (strings.LastIndexByte(src[:e.Start], '\n') + 1) + 1
	return e
}

// IsTemplate reports whether src contains template syntax ({{, {% or {#).
func IsTemplate(src string) bool {
	for i := strings.IndexByte(src, '{'); i >= 0 && i+1 < len(src); {
		switch src[i+1] {
		case '{', '%', '#':
			return true
		}
		j := strings.IndexByte(src[i+1:], '{')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// Render renders a Tera template. Text without template syntax is returned
// unchanged with an identity source map. The error, when not nil, is always
// an *Error whose offsets point into src.
func Render(src string, c Context) (*Output, error) {
	if !IsTemplate(src) {
		return &Output{Text: src, Map: identityMap(len(src))}, nil
	}
	out, err := render(src, c)
	if err != nil {
		return nil, err.locate(src)
	}
	return out, nil
}

func render(src string, c Context) (out *Output, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, errAt(0, len(src), fmt.Sprintf("internal template error: %v", r))
		}
	}()
	nodes, perr := parseTemplate(src)
	if perr != nil {
		return nil, perr
	}
	pg := &program{src: src}
	pg.compile(nodes, nil)
	pg.flush()
	rt := &runtime{
		src:     src,
		prog:    pg,
		vars:    make(map[string]any, len(c.Vars)),
		env:     c.LookupEnv,
		globals: map[string]any{},
		loops:   make([]*loopState, len(pg.loops)),
	}
	if rt.env == nil {
		rt.env = os.LookupEnv
	}
	for k, v := range c.Vars {
		rt.vars[k] = normalize(v)
	}
	if xerr := rt.execute(); xerr != nil {
		return nil, xerr
	}
	text := rt.out.String()
	return &Output{Text: text, Map: &SourceMap{segs: rt.segs, outLen: len(text), srcLen: len(src)}}, nil
}
