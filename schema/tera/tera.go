// Package tera renders Tera-style templates (the dialect mirrord uses for its
// config files). Work in progress: the API is stable.
package tera

import (
	"fmt"
	"os"
	"strings"
)

// Context is what a template can see.
type Context struct {
	// Vars are the template variables, e.g. "key" and "git_branch". A name
	// that is absent is undefined (referencing it is an error).
	Vars map[string]any
	// LookupEnv backs get_env(); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

func (c Context) lookupEnv(name string) (string, bool) {
	if c.LookupEnv != nil {
		return c.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Output is a rendered template.
type Output struct {
	Text string
	Map  *SourceMap
}

// Error is a template parse or render error. Start and End are byte offsets
// into the original template text.
type Error struct {
	Start, End int
	Message    string
	src        string
}

func (e *Error) Error() string {
	line, col := lineCol(e.src, e.Start)
	return fmt.Sprintf("%d:%d: %s", line, col, e.Message)
}

// lineCol returns the 1-based line and column (in bytes) of off in src.
func lineCol(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + strings.Count(src[:off], "\n")
	col := off - (strings.LastIndexByte(src[:off], '\n') + 1) + 1
	return line, col
}

// SourceMap maps byte offsets of rendered text back to the original text.
type SourceMap struct {
	identity bool
	srcLen   int
}

// ToSource maps a rendered byte offset to an original byte offset.
func (m *SourceMap) ToSource(renderedOffset int) int {
	return renderedOffset
}

// ToSourceRange maps a rendered span to an original span.
func (m *SourceMap) ToSourceRange(start, end int) (int, int) {
	return start, end
}

// IsTemplate reports whether src contains template syntax ({{, {% or {#).
func IsTemplate(src string) bool {
	return strings.Contains(src, "{{") || strings.Contains(src, "{%") || strings.Contains(src, "{#")
}

// Render renders src. The error, when not nil, is always an *Error.
func Render(src string, c Context) (*Output, error) {
	if !IsTemplate(src) {
		return &Output{Text: src, Map: &SourceMap{identity: true, srcLen: len(src)}}, nil
	}
	return &Output{Text: src, Map: &SourceMap{identity: true, srcLen: len(src)}}, nil
}

// Doc describes a function, filter or test for editor completion and hover.
type Doc struct {
	Name, Signature, Description string
}

// Functions lists the supported template functions.
func Functions() []Doc { return nil }

// Filters lists the supported filters.
func Filters() []Doc { return nil }

// Tests lists the supported tests (`x is NAME`).
func Tests() []Doc { return nil }
