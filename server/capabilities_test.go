package server

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// initializeWith initializes with the given client capabilities and
// returns the raw result.
func (c *testClient) initializeWith(folder string, caps map[string]any) map[string]any {
	c.t.Helper()
	params := map[string]any{
		"processId":    os.Getpid(),
		"rootUri":      lsp.URIFromPath(folder),
		"capabilities": caps,
	}
	var res map[string]any
	c.call("initialize", params, &res)
	c.notify("initialized", map[string]any{})
	return res
}

func at(uri protocol.DocumentURI, line, char uint32) protocol.TextDocumentPositionParams {
	return protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: line, Character: char}}
}

// documentationOf decodes an item's documentation, a string or a
// MarkupContent.
func documentationOf(t *testing.T, raw json.RawMessage) (kind, value string) {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return "", ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return "plaintext", s
	}
	var mc protocol.MarkupContent
	if err := json.Unmarshal(raw, &mc); err != nil {
		t.Fatalf("documentation %s: %v", raw, err)
	}
	return string(mc.Kind), mc.Value
}

// TestClientMarkupAndSnippets: hover and completion documentation are
// Markdown only for clients that list "markdown"; snippets only for
// clients with snippetSupport.
func TestClientMarkupAndSnippets(t *testing.T) {
	for _, tc := range []struct {
		name        string
		textDoc     map[string]any
		hoverKind   string
		docKind     string
		wantSnippet bool
	}{
		{name: "no capabilities", textDoc: nil, hoverKind: "plaintext", docKind: "plaintext"},
		{name: "eglot without markdown-mode",
			textDoc: map[string]any{
				"hover":      map[string]any{"contentFormat": []string{"plaintext"}},
				"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": false}},
			},
			hoverKind: "plaintext", docKind: "plaintext"},
		{name: "markdown everywhere, snippets",
			textDoc: map[string]any{
				"hover":      map[string]any{"contentFormat": []string{"markdown", "plaintext"}},
				"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": true, "documentationFormat": []string{"markdown"}}},
			},
			hoverKind: "markdown", docKind: "markdown", wantSnippet: true},
		{name: "markdown hover only",
			textDoc: map[string]any{
				"hover":      map[string]any{"contentFormat": []string{"plaintext", "markdown"}},
				"completion": map[string]any{"completionItem": map[string]any{"documentationFormat": []string{"plaintext"}}},
			},
			hoverKind: "markdown", docKind: "plaintext"},
		{name: "markdown docs only, snippets",
			textDoc: map[string]any{
				"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": true, "documentationFormat": []string{"markdown", "plaintext"}}},
			},
			hoverKind: "plaintext", docKind: "markdown", wantSnippet: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startClient(t, Options{})
			dir := t.TempDir()
			caps := map[string]any{}
			if tc.textDoc != nil {
				caps["textDocument"] = tc.textDoc
			}
			c.initializeWith(dir, caps)
			uri := c.open(dir, "mirrord.json", `{"feature": {"fs": {"mode": "read"}}, "agent": {"ttl": 1, "`)

			var h protocol.Hover
			c.call("textDocument/hover", at(uri, 0, 22), &h)
			if string(h.Contents.Kind) != tc.hoverKind {
				t.Errorf("hover kind = %q, want %q", h.Contents.Kind, tc.hoverKind)
			}
			if tc.hoverKind == "markdown" {
				if !strings.Contains(h.Contents.Value, "**mode**") {
					t.Errorf("markdown hover = %q", h.Contents.Value)
				}
			} else if strings.Contains(h.Contents.Value, "**") || strings.Contains(h.Contents.Value, "`") || !strings.HasPrefix(h.Contents.Value, "mode: ") {
				t.Errorf("plain-text hover still has markup: %q", h.Contents.Value)
			}

			var list struct {
				Items []struct {
					Label            string          `json:"label"`
					InsertTextFormat int             `json:"insertTextFormat"`
					Documentation    json.RawMessage `json:"documentation"`
					TextEdit         struct {
						NewText string `json:"newText"`
					} `json:"textEdit"`
				} `json:"items"`
			}
			c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: at(uri, 0, 60)}, &list)
			var documented, snippet bool
			for _, it := range list.Items {
				if kind, value := documentationOf(t, it.Documentation); kind != "" {
					documented = true
					if kind != tc.docKind {
						t.Errorf("%s: documentation kind %q, want %q", it.Label, kind, tc.docKind)
					}
					if kind == "plaintext" && (strings.Contains(value, "**") || strings.Contains(value, "`")) {
						t.Errorf("%s: plain-text documentation has markup: %q", it.Label, value)
					}
				}
				if it.InsertTextFormat == int(protocol.InsertTextFormatSnippet) || strings.Contains(it.TextEdit.NewText, "$") {
					snippet = true
				}
			}
			if !documented {
				t.Fatalf("no documented completion item among %d", len(list.Items))
			}
			if snippet != tc.wantSnippet {
				t.Errorf("snippets sent = %v, want %v", snippet, tc.wantSnippet)
			}
		})
	}
}

// TestPositionEncoding: utf-8 when the client offers it first among the
// encodings the server speaks, utf-16 otherwise; every position in and out
// counts in the chosen encoding.
func TestPositionEncoding(t *testing.T) {
	// "é" is 2 bytes, 1 UTF-16 unit; "😀" 4 bytes, 2 units. The unknown
	// key "feture" starts after them.
	text := "{\"feature\": {\"env\": {\"include\": \"é😀\"}}, \"agent\": {}, \"feture\": 1}"
	keyByte := strings.Index(text, `"feture"`)
	keyUTF16 := keyByte - 3 // é saves 1, 😀 saves 2
	agentByte := strings.Index(text, `"agent"`)
	agentUTF16 := agentByte - 3
	for _, tc := range []struct {
		name    string
		offered any
		want    string
	}{
		{"not offered", nil, "utf-16"},
		{"utf-8 preferred", []string{"utf-8", "utf-16"}, "utf-8"},
		{"utf-8 only", []string{"utf-8"}, "utf-8"},
		{"utf-16 preferred", []string{"utf-16", "utf-8"}, "utf-16"},
		{"utf-32 first, then utf-8", []string{"utf-32", "utf-8"}, "utf-8"},
		{"only utf-32", []string{"utf-32"}, "utf-16"},
		{"malformed", "utf-8", "utf-16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startClient(t, Options{})
			dir := t.TempDir()
			caps := map[string]any{"textDocument": map[string]any{"hover": map[string]any{"contentFormat": []string{"markdown"}}}}
			if tc.offered != nil {
				caps["general"] = map[string]any{"positionEncodings": tc.offered}
			}
			res := c.initializeWith(dir, caps)
			got, _ := res["capabilities"].(map[string]any)["positionEncoding"].(string)
			if got != tc.want {
				t.Fatalf("positionEncoding = %q, want %q", got, tc.want)
			}
			col, agentCol := uint32(keyUTF16), uint32(agentUTF16)
			if tc.want == "utf-8" {
				col, agentCol = uint32(keyByte), uint32(agentByte)
			}

			uri := c.open(dir, "mirrord.json", text)
			d := c.diagnostics(uri, nil)
			var unknown *protocol.Diagnostic
			for i := range d.Diagnostics {
				if strings.Contains(d.Diagnostics[i].Message, "feture") {
					unknown = &d.Diagnostics[i]
				}
			}
			if unknown == nil {
				t.Fatalf("no diagnostic for feture in %+v", d.Diagnostics)
			}
			// The range covers the key with its quotes.
			if unknown.Range.Start.Character != col || unknown.Range.End.Character != col+8 {
				t.Errorf("feture at %d-%d, want %d-%d", unknown.Range.Start.Character, unknown.Range.End.Character, col, col+8)
			}

			// Hover on a key after the emoji, in the same encoding.
			var h *protocol.Hover
			c.call("textDocument/hover", at(uri, 0, agentCol+2), &h)
			if h == nil || !strings.Contains(h.Contents.Value, "**agent**") {
				t.Errorf("hover at %d (agent): %+v", agentCol+2, h)
			}

			// An edit in the client's columns: rename feture to agent.
			c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
				TextDocument: protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: 2},
				ContentChanges: []lsp.TextDocumentContentChangeEvent{
					{Range: &protocol.Range{Start: protocol.Position{Character: col}, End: protocol.Position{Character: col + 8}}, Text: `"agent"`},
				},
			})
			fixed := c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == 2 })
			for _, d := range fixed.Diagnostics {
				if strings.Contains(d.Message, "feture") || strings.Contains(d.Message, "unknown field") {
					t.Errorf("after the edit: %+v", d)
				}
			}
		})
	}
}
