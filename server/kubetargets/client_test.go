package kubetargets

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

// client is an LSP client over an in-process pipe to a server wired to a
// cluster helper (the real `mirrord cluster-serve`), as cmd/mirrord-ls
// wires it.
type client struct {
	t       testing.TB
	cluster *Client
	stream  *wire.Stream
	frames  *wire.FrameReader
	nextID  int32

	mu      sync.Mutex
	cond    *sync.Cond
	replies map[string]reply
	notes   []note
	closed  bool
}

type reply struct {
	result json.RawMessage
	err    *jsonrpc2.Error
}

type note struct {
	method string
	params json.RawMessage
	at     time.Time
}

const waitTimeout = 60 * time.Second

// startServer runs a server whose cluster features use a catalog reading
// kubeconfig (as KUBECONFIG).
func startServer(t testing.TB, kubeconfig string, opts Options) *client {
	t.Helper()
	return startServerInit(t, kubeconfig, opts, nil)
}

// startServerInit is startServer with initializationOptions (nil: none).
func startServerInit(t testing.TB, kubeconfig string, opts Options, initOpts map[string]any) *client {
	t.Helper()
	env := func(name string) (string, bool) {
		if name == "KUBECONFIG" {
			return kubeconfig, true
		}
		return os.LookupEnv(name)
	}
	if opts.Mirrord == "" {
		opts.Mirrord = testbin.Mirrord(t)
	}
	opts.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p := New(opts)
	srv, err := server.New(server.Options{LookupEnv: env, Cluster: p, Targets: p})
	if err != nil {
		t.Fatal(err)
	}
	serverEnd, clientEnd := net.Pipe()
	c := &client{t: t, cluster: p, stream: wire.New(clientEnd), frames: wire.NewFrameReader(clientEnd), replies: map[string]reply{}}
	c.cond = sync.NewCond(&c.mu)
	exit := make(chan int, 1)
	go func() { exit <- srv.Serve(context.Background(), serverEnd, serverEnd, serverEnd) }()
	go c.readLoop()
	t.Cleanup(func() {
		_ = clientEnd.Close()
		select {
		case <-exit:
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop after the transport closed")
		}
		if err := p.Close(); err != nil {
			t.Errorf("closing the cluster helper: %v", err)
		}
	})
	dir := t.TempDir()
	params := map[string]any{
		"processId": os.Getpid(), "rootUri": lsp.URIFromPath(dir), "capabilities": map[string]any{"textDocument": map[string]any{
			"hover":      map[string]any{"contentFormat": []string{"markdown", "plaintext"}},
			"completion": map[string]any{"completionItem": map[string]any{"documentationFormat": []string{"markdown", "plaintext"}}},
		}},
	}
	if initOpts != nil {
		params["initializationOptions"] = initOpts
	}
	c.call(protocol.MethodInitialize, params, nil)
	c.notify(protocol.MethodInitialized, map[string]any{})
	return c
}

func (c *client) readLoop() {
	for {
		body, _, err := c.frames.Next()
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *jsonrpc2.Error `json:"error"`
		}
		if err == nil {
			err = json.Unmarshal(body, &m)
		}
		c.mu.Lock()
		switch {
		case err != nil:
			c.closed = true
		case m.Method == "":
			c.replies[string(m.ID)] = reply{result: m.Result, err: m.Error}
		default:
			c.notes = append(c.notes, note{method: m.Method, params: m.Params, at: time.Now()})
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (c *client) send(method string, params any) int32 {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	raw, err := json.Marshal(params)
	if err != nil {
		c.t.Fatal(err)
	}
	call, err := jsonrpc2.NewCall(jsonrpc2.NewNumberID(id), method, json.RawMessage(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stream.Write(context.Background(), call); err != nil {
		c.t.Fatalf("sending %s: %v", method, err)
	}
	return id
}

func (c *client) notify(method string, params any) {
	c.t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		c.t.Fatal(err)
	}
	n, err := jsonrpc2.NewNotification(method, json.RawMessage(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stream.Write(context.Background(), n); err != nil {
		c.t.Fatalf("sending %s: %v", method, err)
	}
}

// waitFor blocks until cond (called with c.mu held) holds.
func (c *client) waitFor(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		if c.closed {
			c.t.Fatalf("connection closed while waiting for %s", what)
		}
		c.cond.Wait()
	}
}

func (c *client) wait(id int32) reply {
	c.t.Helper()
	var r reply
	key := fmt.Sprint(id)
	c.waitFor("the answer to request "+key, waitTimeout, func() bool {
		var ok bool
		r, ok = c.replies[key]
		return ok
	})
	return r
}

// call sends a request and decodes its result, failing on an error.
func (c *client) call(method string, params, result any) {
	c.t.Helper()
	if err := c.tryCall(method, params, result); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
}

func (c *client) tryCall(method string, params, result any) error {
	c.t.Helper()
	r := c.wait(c.send(method, params))
	if r.err != nil {
		return r.err
	}
	if result != nil {
		if err := json.Unmarshal(r.result, result); err != nil {
			return fmt.Errorf("decoding %s: %w", r.result, err)
		}
	}
	return nil
}

// open writes a config file under a new folder and opens it.
func (c *client) open(name, text string) protocol.DocumentURI {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	uri := lsp.URIFromPath(path)
	lang := strings.TrimPrefix(filepath.Ext(name), ".")
	c.notify(protocol.MethodTextDocumentDidOpen, protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{
		URI: uri, LanguageID: protocol.LanguageIdentifier(lang), Version: 1, Text: text,
	}})
	return uri
}

// diagnostics waits for a publishDiagnostics of uri that satisfies ok.
func (c *client) diagnostics(uri protocol.DocumentURI, timeout time.Duration, ok func(lsp.PublishDiagnosticsParams) bool) (lsp.PublishDiagnosticsParams, time.Time) {
	c.t.Helper()
	var got lsp.PublishDiagnosticsParams
	var at time.Time
	c.waitFor("diagnostics of "+string(uri), timeout, func() bool {
		for _, n := range c.notes {
			if n.method != protocol.MethodTextDocumentPublishDiagnostics {
				continue
			}
			var p lsp.PublishDiagnosticsParams
			if json.Unmarshal(n.params, &p) != nil || p.URI != uri {
				continue
			}
			if ok(p) {
				got, at = p, n.at
				return true
			}
		}
		return false
	})
	return got, at
}

// allDiagnostics returns every publishDiagnostics of uri so far.
func (c *client) allDiagnostics(uri protocol.DocumentURI) []lsp.PublishDiagnosticsParams {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []lsp.PublishDiagnosticsParams
	for _, n := range c.notes {
		var p lsp.PublishDiagnosticsParams
		if n.method == protocol.MethodTextDocumentPublishDiagnostics && json.Unmarshal(n.params, &p) == nil && p.URI == uri {
			out = append(out, p)
		}
	}
	return out
}

// marked splits a text with one "|" cursor marker into the text and the
// marker's position (the tests' texts are ASCII).
func marked(t testing.TB, s string) (string, protocol.Position) {
	t.Helper()
	i := strings.Index(s, "|")
	if i < 0 {
		t.Fatalf("no | in %q", s)
	}
	before := s[:i]
	line := strings.Count(before, "\n")
	col := len(before) - (strings.LastIndexByte(before, '\n') + 1)
	return s[:i] + s[i+1:], protocol.Position{Line: uint32(line), Character: uint32(col)}
}
