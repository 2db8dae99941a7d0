package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

// testClient is an LSP client over an in-process pipe. It writes raw
// frames (so tests control ids, cancellation and malformed input) and
// reads every message the server sends.
type testClient struct {
	t      testing.TB
	raw    io.WriteCloser
	stream *wire.Stream
	srv    *Server
	exit   chan int
	nextID int64

	mu      sync.Mutex
	cond    *sync.Cond
	replies map[string]*jsonrpc2.Response
	// nullReplies are the error answers with "id": null (malformed input).
	nullReplies []*jsonrpc2.Response
	notes       []note
	closed      bool
}

type note struct {
	method string
	params json.RawMessage
}

const waitTimeout = 10 * time.Second

func startClient(t testing.TB, opts Options) *testClient {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = func(string) (string, bool) { return "", false }
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	serverEnd, clientEnd := net.Pipe()
	c := &testClient{t: t, raw: clientEnd, stream: wire.New(clientEnd), srv: srv, exit: make(chan int, 1), replies: map[string]*jsonrpc2.Response{}}
	c.cond = sync.NewCond(&c.mu)
	go func() { c.exit <- srv.Serve(context.Background(), serverEnd, serverEnd, serverEnd) }()
	go c.readLoop()
	t.Cleanup(func() {
		_ = clientEnd.Close()
		select {
		case <-c.exit:
		case <-time.After(waitTimeout):
			t.Errorf("server did not stop after the transport closed")
		}
	})
	return c
}

func (c *testClient) readLoop() {
	for {
		msg, _, err := c.stream.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		switch m := msg.(type) {
		case *jsonrpc2.Response:
			if !m.ID().IsValid() {
				c.nullReplies = append(c.nullReplies, m)
			} else {
				c.replies[idKey(m.ID())] = m
			}
		case *jsonrpc2.Notification:
			c.notes = append(c.notes, note{method: m.Method(), params: append(json.RawMessage(nil), m.Params()...)})
		case *jsonrpc2.Call:
			// Server-to-client requests (client/registerCapability): accept.
			id := m.ID()
			go func() {
				_, _ = c.stream.Write(context.Background(), jsonrpc2.NewResponse(id, jsonrpc2.RawMessage("null"), nil))
			}()
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

func idKey(id jsonrpc2.ID) string { return fmt.Sprint(id) }

func mustJSON(t testing.TB, v any) jsonrpc2.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send writes a call and returns its id.
func (c *testClient) send(method string, params any) jsonrpc2.ID {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := jsonrpc2.NewNumberID(c.nextID)
	c.mu.Unlock()
	var raw jsonrpc2.RawMessage
	if params != nil {
		raw = mustJSON(c.t, params)
	}
	if _, err := c.stream.Write(context.Background(), jsonrpc2.NewCall(id, method, raw)); err != nil {
		c.t.Fatalf("sending %s: %v", method, err)
	}
	return id
}

// wait returns the response to id.
func (c *testClient) wait(id jsonrpc2.ID) *jsonrpc2.Response {
	c.t.Helper()
	var resp *jsonrpc2.Response
	c.waitFor(fmt.Sprintf("the response to %v", id), func() bool {
		resp = c.replies[idKey(id)]
		return resp != nil
	})
	return resp
}

// call sends a request and decodes its result; it fails the test on an
// error response.
func (c *testClient) call(method string, params, result any) {
	c.t.Helper()
	resp := c.wait(c.send(method, params))
	if err := resp.Err(); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	if result != nil {
		if err := json.Unmarshal(resp.Result(), result); err != nil {
			c.t.Fatalf("%s: decoding %s: %v", method, resp.Result(), err)
		}
	}
}

// callErr sends a request that must fail and returns the error's code.
func (c *testClient) callErr(method string, params any) *jsonrpc2.Error {
	c.t.Helper()
	resp := c.wait(c.send(method, params))
	var werr *jsonrpc2.Error
	if !errors.As(resp.Err(), &werr) {
		c.t.Fatalf("%s: want an error response, got result %s (err %v)", method, resp.Result(), resp.Err())
	}
	return werr
}

func (c *testClient) notify(method string, params any) {
	c.t.Helper()
	if _, err := c.stream.Write(context.Background(), jsonrpc2.NewNotification(method, mustJSON(c.t, params))); err != nil {
		c.t.Fatalf("sending %s: %v", method, err)
	}
}

func (c *testClient) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.raw.Write(b); err != nil {
		c.t.Fatalf("writing raw bytes: %v", err)
	}
}

// waitFor blocks until cond (called with c.mu held) holds.
func (c *testClient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() {
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

// diagnostics waits for the publishDiagnostics of uri that satisfies ok
// (any, when ok is nil) and returns it.
func (c *testClient) diagnostics(uri lsp.DocumentURI, ok func(lsp.PublishDiagnosticsParams) bool) lsp.PublishDiagnosticsParams {
	c.t.Helper()
	var got lsp.PublishDiagnosticsParams
	c.waitFor("diagnostics of "+string(uri), func() bool {
		for i := len(c.notes) - 1; i >= 0; i-- {
			n := c.notes[i]
			if n.method != "textDocument/publishDiagnostics" {
				continue
			}
			var p lsp.PublishDiagnosticsParams
			if json.Unmarshal(n.params, &p) != nil || p.URI != uri {
				continue
			}
			if ok == nil || ok(p) {
				got = p
				return true
			}
		}
		return false
	})
	return got
}

func (c *testClient) initialize(folder string) lsp.InitializeResult {
	c.t.Helper()
	params := map[string]any{
		"processId": os.Getpid(),
		"rootUri":   lsp.URIFromPath(folder),
		"capabilities": map[string]any{
			"textDocument": map[string]any{"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": true}}},
			"workspace":    map[string]any{"didChangeWatchedFiles": map[string]any{"dynamicRegistration": true}},
		},
		"clientInfo": map[string]any{"name": "server-test"},
	}
	var res lsp.InitializeResult
	c.call("initialize", params, &res)
	c.notify("initialized", map[string]any{})
	return res
}

// open opens a document with the given name in dir.
func (c *testClient) open(dir, name, text string) lsp.DocumentURI {
	c.t.Helper()
	path := filepath.Join(dir, name)
	uri := lsp.URIFromPath(path)
	lang := strings.TrimPrefix(filepath.Ext(name), ".")
	if lang == "yml" {
		lang = "yaml"
	}
	c.notify("textDocument/didOpen", lsp.DidOpenTextDocumentParams{TextDocument: lsp.TextDocumentItem{URI: uri, LanguageID: lang, Version: 1, Text: text}})
	return uri
}

func (c *testClient) shutdownAndExit() int {
	c.t.Helper()
	c.call("shutdown", nil, nil)
	c.notify("exit", nil)
	select {
	case code := <-c.exit:
		c.exit <- code // for the cleanup
		return code
	case <-time.After(waitTimeout):
		c.t.Fatal("server did not exit")
		return -1
	}
}

// completeConfig reads the complete example config from the shared corpus,
// falling back to the copy in server/testdata.
func completeConfig(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"../testdata/configs/valid/complete.json", "testdata/configs/complete.json"} {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	t.Fatal("no complete.json example config")
	return ""
}

// startProcess runs the mirrord-ls binary and connects a client to its
// stdio.
func startProcess(t testing.TB, bin string, args ...string) (*testClient, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--stdio"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(os.TempDir(), "mirrord-ls-no-kubeconfig"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &testClient{t: t, raw: stdin, stream: wire.NewSplit(stdout, stdin, stdin), exit: make(chan int, 1), replies: map[string]*jsonrpc2.Response{}}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		c.exit <- code
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case code := <-c.exit:
			c.exit <- code
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			t.Errorf("mirrord-ls did not exit after its stdin closed")
		}
	})
	return c, cmd
}
