package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func lspFrame(body string) []byte {
	return []byte(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
}

// FuzzFraming feeds random bytes to the server's stdio: it must neither
// crash nor hang, and must stop when its input ends.
func FuzzFraming(f *testing.F) {
	session := bytes.Join([][]byte{
		lspFrame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}`),
		lspFrame(`{"jsonrpc":"2.0","method":"initialized","params":{}}`),
		lspFrame(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///w/mirrord.json","languageId":"json","version":1,"text":"{\"feature\": {\"fs\": {\"mo"}}}`),
		lspFrame(`{"jsonrpc":"2.0","id":2,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///w/mirrord.json"},"position":{"line":0,"character":23}}}`),
		lspFrame(`{"jsonrpc":"2.0","id":3,"method":"shutdown"}`),
		lspFrame(`{"jsonrpc":"2.0","method":"exit"}`),
	}, nil)
	f.Add(session)
	f.Add(session[:len(session)/2])
	f.Add([]byte("Content-Length: 10\r\n\r\n{}{}{}{}{}Content-Length: 3\r\n\r\n[1]"))
	f.Add([]byte("\r\n\r\nContent-Length: 99999999\r\n\r\n{"))
	f.Add(lspFrame(`{"jsonrpc":"2.0","id":1,"method":"$/cancelRequest","params":{"id":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		srv, err := New(Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		stream := wire.NewSplit(bytes.NewReader(data), io.Discard, nopCloser{})
		stream.SetMaxBody(1 << 20)
		done := make(chan int, 1)
		go func() { done <- srv.ServeStream(context.Background(), stream) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the server did not stop after its input ended")
		}
	})
}

// fuzzedMethods are the methods FuzzParams sends (exit and shutdown end
// the session and are covered by the lifecycle tests).
func fuzzedMethods(s *Server) []string {
	var out []string
	for name := range s.methods {
		if name != "exit" && name != "shutdown" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// FuzzParams sends arbitrary params to every method; every request must be
// answered and the server must stay alive.
func FuzzParams(f *testing.F) {
	// One server per fuzzing process: iterations share it, as an editor
	// session would.
	fuzzDir := f.TempDir()
	c := startClient(f, Options{})
	c.initialize(fuzzDir)
	uri := string(lsp.URIFromPath(filepath.Join(fuzzDir, "mirrord.json")))
	seeds := []string{
		`{}`, `null`, `[]`, `42`, `"x"`,
		`{"textDocument":{"uri":"` + uri + `","languageId":"json","version":1,"text":"{\"feature\": {\"fs\": \"re"}}`,
		`{"textDocument":{"uri":"` + uri + `","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":3},"end":{"line":0,"character":1}},"text":"x"}]}`,
		`{"textDocument":{"uri":"` + uri + `"},"position":{"line":0,"character":25}}`,
		`{"textDocument":{"uri":"` + uri + `"},"range":{"start":{"line":0,"character":0},"end":{"line":9,"character":0}},"context":{"diagnostics":[{"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":1}},"message":"x","data":{"suggestion":"y"}}]}}`,
		`{"command":"mirrord.verifyConfig","arguments":[{"uri":"` + uri + `"}]}`,
		`{"uri":"` + uri + `","env":{"A":"b"}}`, `{"workspaceFolder":"file:///nope","active":"/x"}`,
		`{"changes":[{"uri":"` + uri + `","type":3}]}`,
	}
	names := fuzzedMethods(c.srv)
	for i := range names {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, params []byte) {
		c.t = t
		name := names[int(which)%len(names)]
		raw := json.RawMessage(params)
		if !json.Valid(params) {
			raw, _ = json.Marshal(string(params))
		}
		id := c.send(name, raw)
		c.wait(id)
		// Still alive and answering.
		c.call("mirrord/discoverConfig", map[string]any{"workspaceFolder": fuzzDir}, nil)
	})
}

// TestRandomEdits replays 10,000 random incremental edits on the complete
// example config with completions and hovers in between, then checks the
// server's text, that the last version's diagnostics arrive, and that no
// goroutine is left behind once the session ends.
func TestRandomEdits(t *testing.T) {
	baseline := runtime.NumGoroutine()
	func() {
		c := startClient(t, Options{})
		dir := t.TempDir()
		c.initialize(dir)
		text := completeConfig(t)
		uri := c.open(dir, "mirrord.json", text)
		rng := rand.New(rand.NewSource(1))
		pieces := []string{"", "\n", " ", "{", "}", "[", "]", ":", ",", `"`, `"feature"`, `"fs": "read"`, "true", "12", "{{ git_branch }}", "mode", "\n  "}
		const edits = 10000
		for v := 2; v <= edits+1; v++ {
			lines := strings.Split(text, "\n")
			sl := rng.Intn(len(lines))
			el := min(sl+rng.Intn(2), len(lines)-1)
			sc := rng.Intn(len(lines[sl]) + 3) // past the end is clamped
			ec := rng.Intn(len(lines[el]) + 3)
			start, end := refOffset(lines, sl, sc), refOffset(lines, el, ec)
			if end < start {
				sl, sc, el, ec = el, ec, sl, sc
				start, end = end, start
			}
			if end-start > 40 {
				end = start // keep the document from shrinking away
				el, ec = sl, sc
			}
			insert := pieces[rng.Intn(len(pieces))]
			if len(text) > 20000 {
				insert = ""
			}
			text = text[:start] + insert + text[end:]
			c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
				TextDocument: protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: int32(v)},
				ContentChanges: []lsp.TextDocumentContentChangeEvent{{
					Range: &protocol.Range{Start: protocol.Position{Line: uint32(sl), Character: uint32(sc)}, End: protocol.Position{Line: uint32(el), Character: uint32(ec)}},
					Text:  insert,
				}},
			})
			if v%250 == 0 {
				pos := protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: uint32(sl), Character: uint32(sc)}}
				c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: pos}, nil)
				c.call("textDocument/hover", pos, nil)
			}
		}
		c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == edits+1 })
		if got := c.srv.docs.get(uri).doc.Text(); got != text {
			t.Fatalf("the server's text differs from the client's after %d edits", edits)
		}
		if code := c.shutdownAndExit(); code != 0 {
			t.Errorf("exit code %d", code)
		}
		_ = c.raw.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left behind (baseline %d):\n%s", runtime.NumGoroutine()-baseline, baseline, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refOffset is the reference conversion for ASCII text: columns past the
// line end mean the line end.
func refOffset(lines []string, line, col int) int {
	off := 0
	for i := 0; i < line; i++ {
		off += len(lines[i]) + 1
	}
	return off + min(col, len(lines[line]))
}

var _ = jsonrpc2.ParseError
