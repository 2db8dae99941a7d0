package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// method is one entry of the method table.
type method struct {
	// notification methods never answer; requests always do.
	notification bool
	// async requests release the read loop so they run concurrently with
	// later messages and can be cancelled with $/cancelRequest.
	async bool
	// anyState runs the method before initialize and after shutdown.
	anyState bool
	run      func(ctx context.Context, params json.RawMessage) (any, error)
}

// request wraps a typed request handler.
func request[P any, R any](async bool, f func(context.Context, P) (R, error)) method {
	return method{async: async, run: func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p P
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return f(ctx, p)
	}}
}

// notification wraps a typed notification handler.
func notification[P any](f func(context.Context, P) error) method {
	return method{notification: true, run: func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p P
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		return nil, f(ctx, p)
	}}
}

// decodeParams decodes params into p; malformed params are InvalidParams.
func decodeParams(raw json.RawMessage, p any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return jsonrpc2.NewError(jsonrpc2.InvalidParams, "params must be an object")
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid params: "+err.Error())
	}
	if v, ok := p.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid params: "+err.Error())
		}
	}
	return nil
}

// Command names of workspace/executeCommand.
const (
	CommandVerifyConfig   = "mirrord.verifyConfig"
	CommandDiscoverConfig = "mirrord.discoverConfig"
)

// methodTable lists every method the server answers. Later features add
// their entries here; initialize advertises what the table holds.
func (s *Server) methodTable() map[string]method {
	m := map[string]method{
		"initialize":  request(false, s.initialize),
		"initialized": notification(s.initialized),
		"shutdown":    {anyState: true, run: s.shutdown},
		"exit":        {notification: true, anyState: true, run: s.exitMethod},

		"textDocument/didOpen":   notification(s.didOpen),
		"textDocument/didChange": notification(s.didChange),
		"textDocument/didClose":  notification(s.didClose),
		"textDocument/didSave":   notification(s.didSave),

		"workspace/didChangeWatchedFiles":     notification(s.didChangeWatchedFiles),
		"workspace/didChangeConfiguration":    notification(func(context.Context, struct{}) error { return nil }),
		"workspace/didChangeWorkspaceFolders": notification(s.didChangeWorkspaceFolders),

		"textDocument/completion":  request(true, s.completion),
		"textDocument/hover":       request(true, s.hover),
		"textDocument/codeAction":  request(true, s.codeAction),
		"workspace/executeCommand": request(true, s.executeCommand),

		"mirrord/verifyConfig":   request(true, s.verifyConfig),
		"mirrord/discoverConfig": request(true, s.discoverConfig),
	}
	if s.opts.Targets != nil {
		m["mirrord/listTargets"] = request(true, s.opts.Targets.ListTargets)
	}
	if s.opts.Sessions != nil {
		m["mirrord/startSession"] = request(true, s.startSession)
		m["mirrord/listSessions"] = request(true, func(ctx context.Context, _ struct{}) ([]SessionInfo, error) {
			return s.opts.Sessions.ListSessions(ctx)
		})
		m["mirrord/stopSession"] = request(true, func(ctx context.Context, p struct {
			SessionID string `json:"session_id"`
		}) (any, error) {
			if p.SessionID == "" {
				return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "session_id is required")
			}
			return nil, s.opts.Sessions.StopSession(ctx, p.SessionID)
		})
	}
	return m
}

// customMethods lists the mirrord/* methods in the table (advertised in
// initialize under experimental.mirrord.methods).
func (s *Server) customMethods() []string {
	var out []string
	for name := range s.methods {
		if strings.HasPrefix(name, "mirrord/") {
			out = append(out, name)
		}
	}
	sortStrings(out)
	return out
}

var errCancelled = jsonrpc2.NewError(lsp.CodeRequestCancelled, "request cancelled")

// handle dispatches one incoming message.
func (s *Server) handle(rctx context.Context, req *jsonrpc2.Request) (result any, err error) {
	name := req.Method()
	m, ok := s.methods[name]
	if !ok {
		if !req.IsCall() {
			if !strings.HasPrefix(name, "$/") {
				s.log.Debug("ignoring unknown notification", "method", name)
			}
			return nil, nil
		}
		return nil, jsonrpc2.NewError(jsonrpc2.MethodNotFound, fmt.Sprintf("method not found: %q", name))
	}
	if !m.anyState {
		switch lifecycle(s.state.Load()) {
		case stateNew:
			if name != "initialize" {
				if !req.IsCall() {
					return nil, nil
				}
				return nil, jsonrpc2.NewError(lsp.CodeServerNotInitialized, "the server is not initialized")
			}
		case stateShutdown:
			if !req.IsCall() {
				return nil, nil
			}
			return nil, jsonrpc2.NewError(jsonrpc2.InvalidRequest, "the server is shutting down")
		case stateInitialized:
			if name == "initialize" {
				return nil, jsonrpc2.NewError(jsonrpc2.InvalidRequest, "initialize was already received")
			}
		}
	}
	if m.notification != !req.IsCall() {
		if !req.IsCall() {
			s.log.Warn("request sent as a notification; ignored", "method", name)
			return nil, nil
		}
		// A notification method sent with an id: run it and answer null.
	}
	// The request context of jsonrpc2 is pooled and recycled when the
	// handler returns; contexts derived from it (context.WithCancel) race
	// with that recycling. Handlers get their own context instead, derived
	// from the connection's, and cancelled by $/cancelRequest through the
	// in-flight table.
	hctx, cancel := context.WithCancel(s.baseCtx)
	defer cancel()
	if req.IsCall() {
		id := ownedID(req.ID())
		s.inflight.add(id, cancel)
		defer s.inflight.remove(id)
	}
	if m.async && req.IsCall() {
		jsonrpc2.Async(rctx)
	}
	ctx := hctx
	params := json.RawMessage(req.Params())

	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "method", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			result, err = nil, jsonrpc2.NewError(jsonrpc2.InternalError, fmt.Sprintf("internal error in %s", name))
		}
	}()
	began := time.Now()
	result, err = m.run(ctx, params)
	s.log.Debug("handled", "method", name, "took", time.Since(began), "error", err)
	if !req.IsCall() {
		if err != nil {
			// A notification cannot be answered, and an error returned
			// here would end the connection: log it.
			s.log.Warn("notification failed", "method", name, "error", err)
		}
		return nil, nil
	}
	if ctx.Err() != nil && (err != nil || m.async) {
		return nil, errCancelled
	}
	if err != nil {
		var werr *jsonrpc2.Error
		if !errors.As(err, &werr) {
			s.log.Warn("request failed", "method", name, "error", err)
			err = jsonrpc2.NewError(lsp.CodeRequestFailed, err.Error())
		}
		return nil, err
	}
	return result, nil
}

// --- lifecycle ---

func (s *Server) initialize(_ context.Context, p lsp.InitializeParams) (lsp.InitializeResult, error) {
	var folders []string
	for _, f := range p.WorkspaceFolders {
		if path, err := f.URI.Path(); err == nil {
			folders = append(folders, path)
		}
	}
	if len(folders) == 0 && p.RootURI != nil {
		if path, err := p.RootURI.Path(); err == nil {
			folders = append(folders, path)
		}
	}
	if len(folders) == 0 && p.RootPath != nil && *p.RootPath != "" {
		folders = append(folders, *p.RootPath)
	}
	var initOpts struct {
		// DiagnosticsDelayMs is a quiet period after edits before validation.
		DiagnosticsDelayMs *int `json:"diagnosticsDelayMs"`
	}
	if len(p.InitializationOptions) > 0 {
		if err := json.Unmarshal(p.InitializationOptions, &initOpts); err != nil {
			s.log.Warn("ignoring initializationOptions", "error", err)
		}
	}
	s.mu.Lock()
	s.folders = folders
	s.caps = p.Capabilities
	if ms := initOpts.DiagnosticsDelayMs; ms != nil && *ms >= 0 && *ms <= 10000 {
		s.delay = time.Duration(*ms) * time.Millisecond
	}
	s.mu.Unlock()
	if p.ProcessID != nil && *p.ProcessID > 0 {
		s.watchParent(*p.ProcessID)
	}
	client := "unknown"
	if p.ClientInfo != nil {
		client = p.ClientInfo.Name + " " + p.ClientInfo.Version
	}
	s.log.Info("initialize", "client", client, "folders", folders)
	s.state.Store(int32(stateInitialized))

	commands := []string{CommandVerifyConfig, CommandDiscoverConfig}
	return lsp.InitializeResult{
		Capabilities: lsp.ServerCapabilities{
			TextDocumentSync: lsp.TextDocumentSyncOptions{OpenClose: true, Change: lsp.TextDocumentSyncIncremental},
			CompletionProvider: &lsp.CompletionOptions{
				TriggerCharacters: []string{`"`, ":", " ", "{", "|", "=", ".", "[", "-"},
			},
			HoverProvider: true,
			CodeActionProvider: &lsp.CodeActionOptions{
				CodeActionKinds: []string{lsp.QuickFix, lsp.RefactorRewrite},
			},
			ExecuteCommandProvider: &lsp.ExecuteCommandOptions{Commands: commands},
			Experimental: map[string]any{
				"mirrord": map[string]any{"methods": s.customMethods()},
			},
		},
		ServerInfo: lsp.ServerInfo{Name: "mirrord-ls", Version: s.opts.Version},
	}, nil
}

func (s *Server) initialized(_ context.Context, _ struct{}) error {
	s.mu.Lock()
	dynamic := s.caps.Workspace.DidChangeWatchedFiles.DynamicRegistration
	s.mu.Unlock()
	if !dynamic {
		return nil
	}
	// Ask the client to watch config files. This is a call to the client,
	// so it cannot wait on the read loop: run it aside.
	go func() {
		ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
		defer cancel()
		params := lsp.RegistrationParams{Registrations: []lsp.Registration{{
			ID:     "mirrord-config-watcher",
			Method: "workspace/didChangeWatchedFiles",
			RegisterOptions: lsp.DidChangeWatchedFilesRegistrationOptions{Watchers: []lsp.FileSystemWatcher{
				{GlobPattern: "**/*mirrord.{json,yaml,yml,toml}"},
				{GlobPattern: "**/.mirrord/*.{json,yaml,yml,toml}"},
			}},
		}}}
		if _, err := s.conn.Call(ctx, "client/registerCapability", params, nil); err != nil && ctx.Err() == nil {
			s.log.Info("the client did not register the config file watcher", "error", err)
		}
	}()
	return nil
}

func (s *Server) shutdown(_ context.Context, _ json.RawMessage) (any, error) {
	if lifecycle(s.state.Load()) == stateNew {
		return nil, jsonrpc2.NewError(lsp.CodeServerNotInitialized, "the server is not initialized")
	}
	s.state.Store(int32(stateShutdown))
	s.log.Info("shutdown")
	s.diags.stop()
	return nil, nil
}

func (s *Server) exitMethod(_ context.Context, _ json.RawMessage) (any, error) {
	s.signalExit()
	return nil, nil
}

// ownedID copies an id so it stays valid after the request is recycled.
func ownedID(id jsonrpc2.ID) jsonrpc2.ID {
	if str, ok := id.StringValue(); ok {
		return jsonrpc2.NewStringID(strings.Clone(str))
	}
	return id
}

// inflight maps the ids of running requests to their cancel functions.
type inflight struct {
	mu sync.Mutex
	m  map[jsonrpc2.ID]context.CancelFunc
}

func (f *inflight) add(id jsonrpc2.ID, cancel context.CancelFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[jsonrpc2.ID]context.CancelFunc{}
	}
	f.m[id] = cancel
}

func (f *inflight) remove(id jsonrpc2.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, id)
}

func (f *inflight) cancel(id jsonrpc2.ID) {
	f.mu.Lock()
	cancel := f.m[id]
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
