package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// TestOpenConfigDecision: the path alone decides whether a document is a
// mirrord config, and the extension (then the content) its format; the
// languageId the editor sends does not matter.
func TestOpenConfigDecision(t *testing.T) {
	for _, tc := range []struct {
		path, lang, text string
		config           bool
		format           schema.Format
	}{
		{"/p/.mirrord/mirrord.json", "json", "{}", true, schema.FormatJSON},
		{"/p/.mirrord/mirrord.json", "js", "{}", true, schema.FormatJSON},
		{"/p/.mirrord/mirrord.json", "jsonc", "{}", true, schema.FormatJSON},
		{"/p/.mirrord/mirrord.json", "plaintext", "{}", true, schema.FormatJSON},
		{"/p/.mirrord/mirrord.json", "", "{}", true, schema.FormatJSON},
		{"/p/.mirrord/config.toml", "conf-toml", "[feature]\n", true, schema.FormatTOML},
		{"/p/.mirrord/config.TOML", "conf", "[feature]\n", true, schema.FormatTOML},
		{"/p/.mirrord/dev.yml", "yaml-ts", "feature: {}\n", true, schema.FormatYAML},
		{"/p/.mirrord/dev.yaml", "fundamental", "feature: {}\n", true, schema.FormatYAML},
		{"/p/my-mirrord.json", "javascript", "{}", true, schema.FormatJSON},
		{"/p/sub/dir/mirrord.yaml", "text", "{}", true, schema.FormatYAML},
		{"/p/staging.mirrord.toml", "toml", "", true, schema.FormatTOML},
		// A JSON text in a .yaml file is parsed as YAML (JSON is YAML).
		{"/p/.mirrord/x.yaml", "json", "{}", true, schema.FormatYAML},

		{"/p/package.json", "json", "{}", false, 0},
		{"/p/app.js", "js", "{}", false, 0},
		{"/p/tsconfig.json", "jsonc", "{}", false, 0},
		{"/p/.mirrord/notes.txt", "text", "{}", false, 0},
		{"/p/.mirrord/sub/mirrord-ish.json", "json", "{}", false, 0},
		{"/p/.mirrord", "json", "{}", false, 0},
		{"/p/mirrord.json.bak", "json", "{}", false, 0},
		{"/p/mirrord", "json", "{}", false, 0},
		{"/p/.mirrord/sub/x.json", "json", "{}", false, 0},
		{"/p/mirrordconf/x.json", "json", "{}", false, 0},
	} {
		t.Run(tc.lang+":"+tc.path, func(t *testing.T) {
			item := protocol.TextDocumentItem{URI: lsp.URIFromPath(tc.path), LanguageID: protocol.LanguageIdentifier(tc.lang), Version: 1, Text: tc.text}
			d, err := openConfig(item, textdoc.UTF16)
			if got := err == nil; got != tc.config {
				t.Fatalf("openConfig(%s, %q): config = %v (%v), want %v", tc.path, tc.lang, got, err, tc.config)
			}
			if IsConfigPath(tc.path) != tc.config {
				t.Errorf("IsConfigPath(%s) = %v, want %v", tc.path, !tc.config, tc.config)
			}
			if d != nil && d.format != tc.format {
				t.Errorf("format = %v, want %v", d.format, tc.format)
			}
		})
	}
}

// TestSniffFormat: the content decides when the extension cannot.
func TestSniffFormat(t *testing.T) {
	for _, tc := range []struct {
		text string
		want schema.Format
	}{
		{"", schema.FormatJSON},
		{"\n\n  {\"feature\": {}}", schema.FormatJSON},
		{"// comment\n{}", schema.FormatJSON},
		{"[feature.fs]\nmode = \"read\"\n", schema.FormatTOML},
		{"# comment\ntarget = \"pod/x\"\n", schema.FormatTOML},
		{"feature:\n  fs: read\n", schema.FormatYAML},
		{"target: \"a=b\"\n", schema.FormatYAML},
		{"- a\n", schema.FormatYAML},
		{"[a, b]\n", schema.FormatYAML},
	} {
		if got := sniffFormat(tc.text); got != tc.want {
			t.Errorf("sniffFormat(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if got := configFormat("/p/.mirrord/x", "[feature]\n"); got != schema.FormatTOML {
		t.Errorf("configFormat without an extension = %v, want toml", got)
	}
}

// openAs opens a document with an explicit languageId.
func (c *testClient) openAs(dir, name, lang, text string) protocol.DocumentURI {
	c.t.Helper()
	uri := lsp.URIFromPath(filepath.Join(dir, name))
	c.notify(protocol.MethodTextDocumentDidOpen, protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{URI: uri, LanguageID: protocol.LanguageIdentifier(lang), Version: 1, Text: text}})
	return uri
}

// publishedFor counts the publishDiagnostics received for uri.
func (c *testClient) publishedFor(uri protocol.DocumentURI) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.notes {
		if m.method != protocol.MethodTextDocumentPublishDiagnostics {
			continue
		}
		var p lsp.PublishDiagnosticsParams
		if json.Unmarshal(m.params, &p) == nil && p.URI == uri {
			n++
		}
	}
	return n
}

// TestLanguageIDIgnored: eglot sends "js" for a JSON file in js-mode and
// "conf-toml" for TOML; the config still gets diagnostics, and the other
// files of the project get nothing at all from the server (an empty
// publishDiagnostics would clear another server's findings).
func TestLanguageIDIgnored(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)

	others := []protocol.DocumentURI{
		c.openAs(dir, "package.json", "js", `{"name": 1, "feture": 2}`),
		c.openAs(dir, "app.js", "js", `const x = {"feture": 1}`),
		c.openAs(dir, "tsconfig.json", "json", `{"feture": 1}`),
	}
	for _, tc := range []struct{ name, lang, text, contains string }{
		{".mirrord/mirrord.json", "js", "{\n  \"feture\": {}\n}\n", "feture"},
		{".mirrord/config.toml", "conf-toml", "[feature.fs]\nmode = \"rad\"\n", "rad"},
		{"dev.mirrord.yaml", "plaintext", "feature:\n  fs:\n    mode: rad\n", "rad"},
		{".mirrord/PROD.TOML", "", "[feature.fs]\nmode = \"rad\"\n", "rad"},
	} {
		uri := c.openAs(dir, tc.name, tc.lang, tc.text)
		got := c.diagnostics(uri, nil)
		if !diagnosticMentions(got.Diagnostics, tc.contains) {
			t.Errorf("%s (languageId %q): diagnostics %+v, want one mentioning %q", tc.name, tc.lang, got.Diagnostics, tc.contains)
		}
	}
	for _, uri := range others {
		var list protocol.CompletionList
		c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 0, Character: 2}}}, &list)
		if len(list.Items) != 0 {
			t.Errorf("completion in %s: %d items, want none", uri, len(list.Items))
		}
		var hover json.RawMessage
		c.call("textDocument/hover", protocol.HoverParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 0, Character: 2}}}, &hover)
		if string(hover) != "null" {
			t.Errorf("hover in %s = %s, want null", uri, hover)
		}
		c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
			TextDocument:   protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: 2},
			ContentChanges: []lsp.TextDocumentContentChangeEvent{{Text: `{"feture": 3}`}},
		})
		c.notify("textDocument/didSave", protocol.DidSaveTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}})
		c.notify("textDocument/didClose", protocol.DidCloseTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}})
	}
	// A config opened after all of that is published; the read loop
	// handles messages in order and the other documents were never
	// scheduled, so nothing for them can follow.
	last := c.openAs(dir, ".mirrord/last.json", "js", `{"feture": 1}`)
	c.diagnostics(last, nil)
	for _, uri := range others {
		if n := c.publishedFor(uri); n != 0 {
			t.Errorf("%s: %d publishDiagnostics, want none at all", uri, n)
		}
	}
}

func diagnosticMentions(ds []protocol.Diagnostic, s string) bool {
	for _, d := range ds {
		if strings.Contains(d.Message, s) {
			return true
		}
	}
	return false
}
