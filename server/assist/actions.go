package assist

import (
	"encoding/json"
	"regexp"
	"strings"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// Fix is a diagnostic with a did-you-mean replacement.
type Fix struct {
	Diagnostic protocol.Diagnostic
	Suggestion string
}

// ActionRequest asks for the code actions of a range.
type ActionRequest struct {
	URI    protocol.DocumentURI
	Doc    *textdoc.Doc
	Format cursor.Format
	// Start and End are the byte offsets of the requested range.
	Start, End int
	Fixes      []Fix
}

// CodeActions returns the did-you-mean quick fixes for the given
// diagnostics, and the target form conversion when the range touches the
// target field.
func (e *Engine) CodeActions(req ActionRequest) []protocol.CodeAction {
	var out []protocol.CodeAction
	text := req.Doc.Text()
	for _, f := range req.Fixes {
		if f.Suggestion == "" {
			continue
		}
		r := f.Diagnostic.Range
		start, err1 := req.Doc.Offset(int(r.Start.Line), int(r.Start.Character))
		end, err2 := req.Doc.Offset(int(r.End.Line), int(r.End.Character))
		if err1 != nil || err2 != nil || end < start {
			continue
		}
		newText := requote(text[start:end], f.Suggestion)
		out = append(out, protocol.CodeAction{
			Title:       "Change to " + jsonText(f.Suggestion),
			Kind:        protocol.QuickFix,
			Diagnostics: []protocol.Diagnostic{f.Diagnostic},
			IsPreferred: true,
			Edit: &protocol.WorkspaceEdit{Changes: map[protocol.DocumentURI][]protocol.TextEdit{
				req.URI: {{Range: r, NewText: newText}},
			}},
		})
	}
	if a, ok := e.convertTarget(req); ok {
		out = append(out, a)
	}
	return out
}

// requote replaces the text of a key or value keeping its quoting.
func requote(old, suggestion string) string {
	if len(old) >= 2 && (old[0] == '"' || old[0] == '\'') && old[len(old)-1] == old[0] {
		if old[0] == '"' {
			return jsonText(suggestion)
		}
		return "'" + suggestion + "'"
	}
	return suggestion
}

// convertTarget offers target string form <-> object form.
func (e *Engine) convertTarget(req ActionRequest) (protocol.CodeAction, bool) {
	text := req.Doc.Text()
	var start, end int
	var newText, title string
	var ok bool
	switch req.Format {
	case cursor.YAML:
		start, end, newText, title, ok = yamlTargetConversion(text)
	case cursor.TOML:
		start, end, newText, title, ok = tomlTargetConversion(text)
	default:
		start, end, newText, title, ok = jsonTargetConversion(text)
	}
	if !ok || req.End < start || req.Start > end {
		return protocol.CodeAction{}, false
	}
	return protocol.CodeAction{
		Title: title,
		Kind:  protocol.RefactorRewrite,
		Edit: &protocol.WorkspaceEdit{Changes: map[protocol.DocumentURI][]protocol.TextEdit{
			req.URI: {{Range: spanRange(req.Doc, start, end), NewText: newText}},
		}},
	}, true
}

const (
	toObjectTitle = "Convert target to object form"
	toStringTitle = "Convert target to string form"
)

// pathOnly returns the path of a target object that has nothing else.
func pathOnly(obj map[string]any) (string, bool) {
	if len(obj) != 1 {
		return "", false
	}
	p, ok := obj["path"].(string)
	return p, ok
}

func jsonTargetConversion(text string) (start, end int, newText, title string, ok bool) {
	keyStart, vs, ve, found := cursor.JSONValueSpan(text, []string{"target"})
	if !found {
		return 0, 0, "", "", false
	}
	val := text[vs:ve]
	switch {
	case strings.HasPrefix(val, `"`):
		var s string
		if json.Unmarshal([]byte(val), &s) != nil {
			return 0, 0, "", "", false
		}
		return keyStart, ve, text[keyStart:vs] + `{"path": ` + val + `}`, toObjectTitle, true
	case strings.HasPrefix(val, "{"):
		var obj map[string]any
		if json.Unmarshal([]byte(val), &obj) != nil {
			return 0, 0, "", "", false
		}
		p, only := pathOnly(obj)
		if !only {
			return 0, 0, "", "", false
		}
		return keyStart, ve, text[keyStart:vs] + jsonText(p), toStringTitle, true
	}
	return 0, 0, "", "", false
}

var (
	yamlTargetLine = regexp.MustCompile(`(?m)^target:[ \t]*(.*?)[ \t]*$`)
	yamlChildLine  = regexp.MustCompile(`^([ \t]+)([A-Za-z_"']+?)["']?:[ \t]*(.*?)[ \t]*$`)
	tomlTargetLine = regexp.MustCompile(`(?m)^target[ \t]*=[ \t]*(.*?)[ \t]*$`)
	tomlInlinePath = regexp.MustCompile(`^\{[ \t]*path[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|'[^']*')[ \t]*,?[ \t]*\}$`)
)

func yamlTargetConversion(text string) (start, end int, newText, title string, ok bool) {
	m := yamlTargetLine.FindStringSubmatchIndex(text)
	if m == nil {
		return 0, 0, "", "", false
	}
	value := text[m[2]:m[3]]
	if value != "" && !strings.HasPrefix(value, "#") {
		if strings.HasPrefix(value, "{") || strings.HasPrefix(value, "[") {
			return 0, 0, "", "", false
		}
		return m[0], m[1], "target:\n  path: " + value, toObjectTitle, true
	}
	// Block form: the children are the indented lines that follow.
	rest := text[m[1]:]
	lines := strings.Split(strings.TrimPrefix(rest, "\n"), "\n")
	var children []string
	consumed := m[1]
	if strings.HasPrefix(rest, "\n") {
		consumed++
	}
	blockEnd := m[1]
	for _, ln := range lines {
		trimmed := strings.TrimSpace(ln)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			consumed += len(ln) + 1
			continue
		}
		if ln[0] != ' ' && ln[0] != '\t' {
			break
		}
		children = append(children, ln)
		consumed += len(ln) + 1
		blockEnd = min(consumed-1, len(text))
	}
	if len(children) != 1 {
		return 0, 0, "", "", false
	}
	cm := yamlChildLine.FindStringSubmatch(strings.TrimRight(children[0], "\r"))
	if cm == nil || strings.Trim(cm[2], `"'`) != "path" || cm[3] == "" {
		return 0, 0, "", "", false
	}
	return m[0], blockEnd, "target: " + cm[3], toStringTitle, true
}

func tomlTargetConversion(text string) (start, end int, newText, title string, ok bool) {
	// Only the root table: stop at the first table header.
	root := text
	if i := regexp.MustCompile(`(?m)^[ \t]*\[`).FindStringIndex(text); i != nil {
		root = text[:i[0]]
	}
	m := tomlTargetLine.FindStringSubmatchIndex(root)
	if m == nil {
		return 0, 0, "", "", false
	}
	value := root[m[2]:m[3]]
	if strings.HasPrefix(value, `"`) || strings.HasPrefix(value, "'") {
		return m[0], m[1], "target = { path = " + value + " }", toObjectTitle, true
	}
	if pm := tomlInlinePath.FindStringSubmatch(value); pm != nil {
		return m[0], m[1], "target = " + pm[1], toStringTitle, true
	}
	return 0, 0, "", "", false
}
