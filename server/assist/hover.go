package assist

import (
	"strings"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
)

// Hover documents the key or value under the cursor: the field's
// description, type and default (and, on an enum value, what it means).
// It returns nil when there is nothing to say.
func (e *Engine) Hover(req Request) *protocol.Hover {
	text := req.Doc.Text()
	off := req.Offset
	// Hover positions point *at* a character; scanning as if the cursor
	// stood after it finds the token it belongs to.
	if off < len(text) && !isSpace(text[off]) {
		off++
	}
	c := cursor.Find(text, off, req.Format)
	switch c.Kind {
	case cursor.Key:
		name := tokenText(text, c)
		if name == "" {
			return nil
		}
		st := e.lookup(c.Path).Property(name)
		if st.Empty() {
			return nil
		}
		return &protocol.Hover{
			Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: docMarkdown(name, st)},
			Range:    ptr(spanRange(req.Doc, c.Start, c.End)),
		}
	case cursor.Value:
		if len(c.Path) == 0 {
			return nil
		}
		st := e.lookup(c.Path)
		if st.Empty() {
			return nil
		}
		last := c.Path[len(c.Path)-1]
		name := last.Key
		if last.IsIndex {
			name = "item"
		}
		md := docMarkdown(name, st)
		if v := tokenText(text, c); v != "" {
			if d := st.AltDescription(v); d != "" {
				md = "`" + v + "`: " + d + "\n\n---\n\n" + md
			}
		}
		return &protocol.Hover{
			Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: md},
			Range:    ptr(spanRange(req.Doc, c.Start, c.End)),
		}
	case cursor.Template:
		name := text[c.Start:c.End]
		for _, list := range [][]TemplateDoc{e.Functions, e.Filters} {
			for _, d := range list {
				if d.Name == name {
					return &protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: "`" + d.Signature + "`\n\n" + d.Description}}
				}
			}
		}
		for _, v := range e.Variables {
			if v.Name == name {
				return &protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: "`" + v.Name + "`\n\n" + v.Description}}
			}
		}
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// tokenText is the token under the cursor without its quotes.
func tokenText(text string, c cursor.Context) string {
	s := text[c.Start:c.End]
	if c.Quote != 0 && len(s) > 0 {
		s = s[1:]
		s = strings.TrimSuffix(s, string(c.Quote))
	}
	return strings.TrimSpace(s)
}

func ptr[T any](v T) *T { return &v }
