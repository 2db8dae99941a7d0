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
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

// testClient is an LSP client over an in-process pipe. It writes raw
// frames (so tests control ids, cancellation and malformed input) and
// reads every message the server sends.
type testClient struct {
	t      testing.TB
	raw    io.WriteCloser
	stream *wire.Stream // writes
	frames *wire.FrameReader
	srv    *Server
	exit   chan int
	nextID int32

	mu      sync.Mutex
	cond    *sync.Cond
	replies map[string]*response
	// nullReplies are the error answers with "id": null (malformed input).
	nullReplies []*response
	notes       []note
	closed      bool
}

// response is one answer of the server. The client decodes what the server
// writes itself: jsonrpc2.DecodeMessage refuses the "id": null of the
// answers to malformed input.
type response struct {
	result json.RawMessage
	err    *jsonrpc2.Error
}

func (r *response) Err() error {
	if r.err == nil {
		return nil
	}
	return r.err
}

func (r *response) Result() json.RawMessage { return r.result }

// serverMessage is any message the server writes.
type serverMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc2.Error `json:"error"`
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
	c := &testClient{t: t, raw: clientEnd, stream: wire.New(clientEnd), frames: wire.NewFrameReader(clientEnd), srv: srv, exit: make(chan int, 1), replies: map[string]*response{}}
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
		body, _, err := c.frames.Next()
		var m serverMessage
		if err == nil {
			err = json.Unmarshal(body, &m)
		}
		if err != nil {
			// The server never writes a bad frame: any failure ends the
			// connection for the test.
			c.mu.Lock()
			c.closed = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		isNull := len(m.ID) == 0 || string(m.ID) == "null"
		c.mu.Lock()
		switch {
		case m.Method == "" && isNull:
			c.nullReplies = append(c.nullReplies, &response{result: m.Result, err: m.Error})
		case m.Method == "":
			c.replies[string(m.ID)] = &response{result: m.Result, err: m.Error}
		case isNull:
			c.notes = append(c.notes, note{method: m.Method, params: m.Params})
		default:
			// Server-to-client requests (client/registerCapability): accept.
			go c.acceptCall(m.ID)
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// acceptCall answers a server-to-client request with a null result.
func (c *testClient) acceptCall(rawID json.RawMessage) {
	var id jsonrpc2.ID
	if err := id.UnmarshalJSON(rawID); err != nil {
		return
	}
	resp, err := jsonrpc2.NewResponse(id, json.RawMessage("null"), nil)
	if err == nil {
		_, _ = c.stream.Write(context.Background(), resp)
	}
}

// idKey is an id as the server writes it.
func idKey(id jsonrpc2.ID) string {
	b, _ := id.MarshalJSON()
	return string(b)
}

func mustJSON(t testing.TB, v any) json.RawMessage {
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
	var raw json.RawMessage
	if params != nil {
		raw = mustJSON(c.t, params)
	}
	call, err := jsonrpc2.NewCall(id, method, raw)
	if err != nil {
		c.t.Fatalf("encoding %s: %v", method, err)
	}
	if _, err := c.stream.Write(context.Background(), call); err != nil {
		c.t.Fatalf("sending %s: %v", method, err)
	}
	return id
}

// wait returns the response to id.
func (c *testClient) wait(id jsonrpc2.ID) *response {
	c.t.Helper()
	var resp *response
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
	note, err := jsonrpc2.NewNotification(method, mustJSON(c.t, params))
	if err != nil {
		c.t.Fatalf("encoding %s: %v", method, err)
	}
	if _, err := c.stream.Write(context.Background(), note); err != nil {
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
func (c *testClient) diagnostics(uri protocol.DocumentURI, ok func(lsp.PublishDiagnosticsParams) bool) lsp.PublishDiagnosticsParams {
	c.t.Helper()
	var got lsp.PublishDiagnosticsParams
	c.waitFor("diagnostics of "+string(uri), func() bool {
		for i := len(c.notes) - 1; i >= 0; i-- {
			n := c.notes[i]
			if n.method != protocol.MethodTextDocumentPublishDiagnostics {
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

func (c *testClient) initialize(folder string) protocol.InitializeResult {
	c.t.Helper()
	params := map[string]any{
		"processId": os.Getpid(),
		"rootUri":   lsp.URIFromPath(folder),
		"capabilities": map[string]any{
			"textDocument": map[string]any{
				"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": true, "documentationFormat": []string{"markdown", "plaintext"}}},
				"hover":      map[string]any{"contentFormat": []string{"markdown", "plaintext"}},
			},
			"workspace": map[string]any{"didChangeWatchedFiles": map[string]any{"dynamicRegistration": true}},
		},
		"clientInfo": map[string]any{"name": "server-test"},
	}
	var res protocol.InitializeResult
	c.call("initialize", params, &res)
	c.notify("initialized", map[string]any{})
	return res
}

// open opens a document with the given name in dir.
func (c *testClient) open(dir, name, text string) protocol.DocumentURI {
	c.t.Helper()
	path := filepath.Join(dir, name)
	uri := lsp.URIFromPath(path)
	lang := strings.TrimPrefix(filepath.Ext(name), ".")
	if lang == "yml" {
		lang = "yaml"
	}
	c.notify(protocol.MethodTextDocumentDidOpen, protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{URI: uri, LanguageID: protocol.LanguageIdentifier(lang), Version: 1, Text: text}})
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
	for _, p := range []string{"../testdata/configs/invalid/complete.json", "testdata/configs/complete.json"} {
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
	c := &testClient{t: t, raw: stdin, stream: wire.NewSplit(stdout, stdin, stdin), frames: wire.NewFrameReader(stdout), exit: make(chan int, 1), replies: map[string]*response{}}
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
