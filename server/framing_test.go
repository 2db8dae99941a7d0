package server

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// TestWrongFrameLengthsKeepServing: after a frame whose Content-Length
// counted characters instead of bytes (one short), and after frames that
// declare 2^31 and 2^63 bytes, the server answers the 20 requests that
// follow each of them.
func TestWrongFrameLengthsKeepServing(t *testing.T) {
	c := startClient(t, Options{})
	c.initialize(t.TempDir())
	body := `{"jsonrpc":"2.0","id":999,"method":"mirrord/é"}`
	for _, bad := range []string{
		"Content-Length: " + strconv.Itoa(utf8.RuneCountInString(body)) + "\r\n\r\n" + body,
		"Content-Length: 2147483648\r\n\r\n" + body,
		"Content-Length: 9223372036854775808\r\n\r\n" + body,
	} {
		c.writeRaw([]byte(bad))
		var ids []jsonrpc2.ID
		for range 20 {
			ids = append(ids, c.send("mirrord/noSuchMethod", nil))
		}
		for _, id := range ids {
			var werr *jsonrpc2.Error
			if r := c.wait(id); !errorsAs(r.Err(), &werr) || werr.Code != jsonrpc2.MethodNotFound {
				t.Fatalf("request %v after %.40q: %v, want MethodNotFound", id, bad, r.Err())
			}
		}
	}
	c.call("mirrord/discoverConfig", map[string]any{}, nil)
}

// TestHostileDocuments: a document above the size limit gets one clear
// diagnostic at the limit; one nested 10,000 deep gets its diagnostic and
// answers hover and completion at the bottom quickly; lone-CR line endings
// and a byte order mark leave every position right.
func TestHostileDocuments(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	code := func(d protocol.Diagnostic) string { s, _ := d.Code.(string); return s }

	t.Run("size", func(t *testing.T) {
		line := `  "skip_processes": ["` + strings.Repeat("a", 100) + `"],` + "\n"
		text := "{\n" + strings.Repeat(line, schema.MaxDocumentBytes/len(line)+10) + "}"
		t0 := time.Now()
		uri := c.open(dir, "big.mirrord.json", text)
		p := c.diagnostics(uri, nil)
		t.Logf("a document of %d bytes: diagnostics in %v", len(text), time.Since(t0))
		if len(p.Diagnostics) != 1 || code(p.Diagnostics[0]) != "TOO-LARGE" {
			t.Fatalf("diagnostics %+v", p.Diagnostics)
		}
		if want := uint32(strings.Count(text[:schema.MaxDocumentBytes], "\n")); p.Diagnostics[0].Range.Start.Line != want {
			t.Errorf("at line %d, want %d", p.Diagnostics[0].Range.Start.Line, want)
		}
	})

	t.Run("depth", func(t *testing.T) {
		const depth = 10_000
		text := `{"feature": {"env": ` + strings.Repeat(`{"a": `, depth) + `{"include": 1` + strings.Repeat("}", depth+3)
		uri := c.open(dir, "deep.mirrord.json", text)
		p := c.diagnostics(uri, nil)
		if len(p.Diagnostics) != 1 || code(p.Diagnostics[0]) != "SYNTAX" || !strings.Contains(p.Diagnostics[0].Message, "256 levels") {
			t.Fatalf("diagnostics %+v", p.Diagnostics)
		}
		pos := protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri},
			Position: protocol.Position{Line: 0, Character: uint32(strings.Index(text, "include") + 2)}}
		t0 := time.Now()
		c.call("textDocument/hover", protocol.HoverParams{TextDocumentPositionParams: pos}, nil)
		c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: pos}, nil)
		if took := time.Since(t0); took > 2*time.Second {
			t.Errorf("hover and completion at depth %d took %v", depth, took)
		}
	})

	t.Run("lone CR and BOM", func(t *testing.T) {
		text := "\ufeff{\r  \"feture\": 1,\r  \"feature\": {\"fs\": \"reed\"}\r}\r"
		uri := c.open(dir, "cr.mirrord.json", text)
		p := c.diagnostics(uri, nil)
		type at struct{ line, char uint32 }
		want := map[string]at{"A-UNKNOWN": {1, 2}, "A-TYPES": {2, 20}}
		if len(p.Diagnostics) != len(want) {
			t.Fatalf("diagnostics %+v", p.Diagnostics)
		}
		for _, d := range p.Diagnostics {
			if w, ok := want[code(d)]; !ok || d.Range.Start.Line != w.line || d.Range.Start.Character != w.char {
				t.Errorf("%s at %d:%d, want %+v", code(d), d.Range.Start.Line, d.Range.Start.Character, want[code(d)])
			}
		}
	})
}
