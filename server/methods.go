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
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
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
	// long requests (a session start, which reports progress) have no
	// per-request deadline; other async requests do (requestDeadline).
	long bool
	run  func(ctx context.Context, params json.RawMessage) (any, error)
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
	if err := unmarshalParams(raw, p); err != nil {
		return jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid params: "+err.Error())
	}
	return validateParams(p)
}

// unmarshalParams decodes params (absent or null: an empty object) into p.
func unmarshalParams(raw json.RawMessage, p any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return errors.New("params must be an object")
	}
	return json.Unmarshal(raw, p)
}

func validateParams(p any) error {
	if v, ok := p.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid params: "+err.Error())
		}
	}
	return nil
}

// reencode converts a value decoded into an interface{} field of a
// protocol type (initializationOptions, command arguments, diagnostic data)
// back to JSON.
func reencode(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil // decoded from JSON, so it encodes; nil is "absent"
	}
	return raw
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
		protocol.MethodInitialize:  {run: s.initializeRaw},
		protocol.MethodInitialized: notification(s.initialized),
		protocol.MethodShutdown:    {anyState: true, run: s.shutdown},
		protocol.MethodExit:        {notification: true, anyState: true, run: s.exitMethod},

		protocol.MethodTextDocumentDidOpen:   notification(s.didOpen),
		protocol.MethodTextDocumentDidChange: notification(s.didChange),
		protocol.MethodTextDocumentDidClose:  notification(s.didClose),
		protocol.MethodTextDocumentDidSave:   notification(s.didSave),

		protocol.MethodWorkspaceDidChangeWatchedFiles:     notification(s.didChangeWatchedFiles),
		protocol.MethodWorkspaceDidChangeConfiguration:    notification(s.didChangeConfiguration),
		protocol.MethodWorkspaceDidChangeWorkspaceFolders: notification(s.didChangeWorkspaceFolders),

		protocol.MethodTextDocumentCompletion:  request(true, s.completion),
		protocol.MethodTextDocumentHover:       request(true, s.hover),
		protocol.MethodTextDocumentCodeAction:  request(true, s.codeAction),
		protocol.MethodWorkspaceExecuteCommand: request(true, s.executeCommand),

		"mirrord/verifyConfig":        request(true, s.verifyConfig),
		"mirrord/discoverConfig":      request(true, s.discoverConfig),
		MethodDidChangeWorkspaceTrust: notification(s.didChangeWorkspaceTrust),
	}
	if s.opts.Targets != nil {
		m["mirrord/listTargets"] = request(true, s.listTargets)
	}
	if s.opts.Sessions != nil {
		start := request(true, s.startSession)
		start.long = true
		m["mirrord/startSession"] = start
		m["mirrord/listSessions"] = request(true, func(ctx context.Context, _ struct{}) ([]sessionapi.SessionInfo, error) {
			return s.opts.Sessions.ListSessions(ctx)
		})
		m["mirrord/stopSession"] = request(true, s.stopSession)
		if _, ok := s.opts.Sessions.(BranchDetector); ok {
			m["mirrord/gitBranch"] = request(true, s.gitBranch)
		}
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

var errCancelled = jsonrpc2.NewError(protocol.CodeRequestCancelled, "request cancelled")

// handle is the jsonrpc2 handler: it runs on the connection's read loop
// for every incoming request and notification, in order. It always returns
// nil (an error would end the connection); failures are answered.
//
// Cancellation uses the server's own table (inflight) rather than
// jsonrpc2.CancelHandler: the latter never calls the CancelFunc of a
// request that completed, so each call's context would stay attached to the
// connection's context until the connection ends.
func (s *Server) handle(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
	call, isCall := req.(*jsonrpc2.Call)
	name := req.Method()
	if name == protocol.MethodCancelRequest {
		s.cancelRequest(req.Params())
		s.reply(ctx, reply, name, struct{}{}, nil)
		return nil
	}
	m, ok := s.methods[name]
	if !ok {
		if !isCall {
			if !strings.HasPrefix(name, "$/") {
				s.log.Debug("ignoring unknown notification", "method", name)
			}
			return nil
		}
		s.reply(ctx, reply, name, nil, jsonrpc2.NewError(jsonrpc2.MethodNotFound, fmt.Sprintf("method not found: %q", name)))
		return nil
	}
	if err := s.checkState(name, m); err != nil {
		s.reply(ctx, reply, name, nil, err)
		return nil
	}
	if m.notification && !isCall {
		s.run(ctx, false, name, m, req.Params())
		return nil
	}
	if !m.notification && !isCall {
		s.log.Warn("request sent as a notification; ignored", "method", name)
		return nil
	}
	// A call (or a notification method sent with an id: it runs and
	// answers null). It is registered for $/cancelRequest here, on the read
	// loop, so a cancel read right after it finds it.
	hctx, cancel := context.WithCancel(ctx)
	id := call.ID()
	s.inflight.add(id, cancel)
	run := func() {
		defer cancel()
		defer s.inflight.remove(id)
		var (
			result any
			err    error
		)
		if d := s.requestDeadline(); m.async && !m.long && d > 0 {
			result, err = s.runWithDeadline(hctx, cancel, d, name, m, req.Params())
		} else {
			result, err = s.run(hctx, true, name, m, req.Params())
		}
		s.reply(ctx, reply, name, result, err)
	}
	if m.async {
		// Off the read loop: later messages (and $/cancelRequest) are read
		// while it runs.
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			run()
		}()
		return nil
	}
	run()
	return nil
}

// CodeRequestFailed is LSP's RequestFailed: a request that was valid but
// did not complete (here: it ran past its deadline).
const CodeRequestFailed jsonrpc2.Code = -32803

// DefaultRequestTimeout is the per-request deadline of the async requests
// (completion, hover, code actions, the mirrord/* queries) when
// Options.RequestTimeout is 0. A session start has none.
const DefaultRequestTimeout = 30 * time.Second

// requestDeadline is the per-request deadline (0: none).
func (s *Server) requestDeadline() time.Duration {
	switch d := s.opts.RequestTimeout; {
	case d < 0:
		return 0
	case d == 0:
		return DefaultRequestTimeout
	default:
		return d
	}
}

// runWithDeadline runs a request with a deadline: when it passes, the
// request's context is cancelled and the client is answered RequestFailed
// at once, even if the handler does not return (it finishes in the
// background and its result is dropped). Other requests never wait for it:
// async requests each run on their own goroutine.
func (s *Server) runWithDeadline(ctx context.Context, cancel context.CancelFunc, d time.Duration, name string, m method, params json.RawMessage) (any, error) {
	type outcome struct {
		result any
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := s.run(ctx, true, name, m, params)
		done <- outcome{r, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case o := <-done:
		return o.result, o.err
	case <-timer.C:
		cancel()
		s.log.Warn("request ran past its deadline", "method", name, "deadline", d)
		return nil, jsonrpc2.NewError(CodeRequestFailed, fmt.Sprintf("%s did not finish within %s", name, d))
	}
}

// checkState applies the lifecycle rules to a method about to run.
func (s *Server) checkState(name string, m method) error {
	if m.anyState {
		return nil
	}
	switch lifecycle(s.state.Load()) {
	case stateNew:
		if name != protocol.MethodInitialize {
			return jsonrpc2.NewError(jsonrpc2.ServerNotInitialized, "the server is not initialized")
		}
	case stateShutdown:
		return jsonrpc2.NewError(jsonrpc2.InvalidRequest, "the server is shutting down")
	case stateInitialized:
		if name == protocol.MethodInitialize {
			return jsonrpc2.NewError(jsonrpc2.InvalidRequest, "initialize was already received")
		}
	}
	return nil
}

// run runs one method. For a call (isCall), ctx is the request's own
// context, which $/cancelRequest cancels through the in-flight table, and
// the outcome is what to answer. A panic in the method is an InternalError.
func (s *Server) run(ctx context.Context, isCall bool, name string, m method, params json.RawMessage) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "method", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			result, err = nil, jsonrpc2.NewError(jsonrpc2.InternalError, fmt.Sprintf("internal error in %s", name))
		}
	}()
	began := time.Now()
	result, err = m.run(ctx, params)
	s.log.Debug("handled", "method", name, "took", time.Since(began), "error", err)
	if !isCall {
		if err != nil {
			// A notification cannot be answered: log the failure.
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

// reply answers a request (a no-op for notifications). If the result
// cannot be encoded (jsonrpc2 then writes nothing), the request is answered
// with an InternalError instead, so the client is never left waiting.
func (s *Server) reply(ctx context.Context, reply jsonrpc2.Replier, name string, result any, err error) {
	rerr := reply(ctx, result, err)
	if rerr == nil {
		return
	}
	var werr *wire.WriteError
	if errors.As(rerr, &werr) {
		s.log.Debug("answer not sent", "method", name, "error", rerr)
		return
	}
	s.log.Error("answer not encodable", "method", name, "error", rerr)
	internal := jsonrpc2.NewError(jsonrpc2.InternalError, fmt.Sprintf("internal error in %s: the answer cannot be encoded", name))
	if rerr := reply(ctx, nil, internal); rerr != nil {
		s.log.Debug("answer not sent", "method", name, "error", rerr)
	}
}

// --- lifecycle ---

// capabilityTypeWarning is logged when a client capability does not fit
// protocol's type.
const capabilityTypeWarning = "ignoring a client capability of an unexpected type"

// initializeRaw decodes the initialize params leniently: client
// capabilities whose JSON type differs from go.lsp.dev/protocol's (it
// describes LSP 3.16; clients speak 3.17 and carry extensions) are logged
// and left at their zero value instead of failing the whole handshake.
func (s *Server) initializeRaw(ctx context.Context, raw json.RawMessage) (any, error) {
	var p protocol.InitializeParams
	if err := unmarshalParams(raw, &p); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || !strings.HasPrefix(te.Field, "capabilities.") {
			return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid params: "+err.Error())
		}
		s.log.Warn(capabilityTypeWarning, "field", te.Field, "error", err)
	}
	return s.initialize(ctx, p, negotiateEncoding(raw))
}

// negotiateEncoding picks the position encoding from the client's
// capabilities.general.positionEncodings (LSP 3.17): the first of the
// client's list, in its order of preference, that the server speaks
// ("utf-8" or "utf-16"). Without the list, or with nothing usable in it,
// columns are UTF-16 code units, as LSP requires.
func negotiateEncoding(raw json.RawMessage) textdoc.Encoding {
	var p struct {
		Capabilities struct {
			General struct {
				PositionEncodings []any `json:"positionEncodings"`
			} `json:"general"`
		} `json:"capabilities"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return textdoc.UTF16
	}
	for _, e := range p.Capabilities.General.PositionEncodings {
		switch e {
		case "utf-8":
			return textdoc.UTF8
		case "utf-16":
			return textdoc.UTF16
		}
	}
	return textdoc.UTF16
}

func (s *Server) initialize(_ context.Context, p protocol.InitializeParams, enc textdoc.Encoding) (lsp.InitializeResult, error) {
	var folders []string
	for _, f := range p.WorkspaceFolders {
		if path, err := lsp.Path(protocol.DocumentURI(f.URI)); err == nil {
			folders = append(folders, path)
		}
	}
	// Clients without workspace folders still name the root this way.
	//lint:ignore SA1019 rootUri and rootPath are deprecated, but they are the fallback the specification keeps
	rootURI, rootPath := p.RootURI, p.RootPath
	if len(folders) == 0 && rootURI != "" {
		if path, err := lsp.Path(rootURI); err == nil {
			folders = append(folders, path)
		}
	}
	if len(folders) == 0 && rootPath != "" {
		folders = append(folders, rootPath)
	}
	var initOpts struct {
		// DiagnosticsDelayMs is a quiet period after edits before validation.
		DiagnosticsDelayMs *int `json:"diagnosticsDelayMs"`
		// WorkspaceTrusted is the editor's workspace trust (absent: not
		// trusted).
		WorkspaceTrusted bool `json:"workspaceTrusted"`
	}
	if raw := reencode(p.InitializationOptions); raw != nil {
		if err := json.Unmarshal(raw, &initOpts); err != nil {
			s.log.Warn("ignoring initializationOptions", "error", err)
		}
	}
	s.mu.Lock()
	s.folders = folders
	s.caps = p.Capabilities
	s.enc = enc
	if ms := initOpts.DiagnosticsDelayMs; ms != nil && *ms >= 0 && *ms <= 10000 {
		s.delay = time.Duration(*ms) * time.Millisecond
	}
	s.mu.Unlock()
	s.trust.trusted.Store(initOpts.WorkspaceTrusted)
	if p.ProcessID > 0 {
		s.watchParent(int(p.ProcessID))
	}
	client := "unknown"
	if p.ClientInfo != nil {
		client = p.ClientInfo.Name + " " + p.ClientInfo.Version
		s.mu.Lock()
		s.clientName = p.ClientInfo.Name
		s.mu.Unlock()
	}
	s.log.Info("initialize", "client", client, "folders", folders)
	s.state.Store(int32(stateInitialized))

	commands := []string{CommandVerifyConfig, CommandDiscoverConfig}
	if s.opts.Targets != nil {
		commands = append(commands, CommandListTargets)
	}
	if _, ok := s.methods["mirrord/gitBranch"]; ok {
		commands = append(commands, CommandGitBranch)
	}
	return lsp.InitializeResult{
		Capabilities: lsp.ServerCapabilities{PositionEncoding: enc.String(), ServerCapabilities: protocol.ServerCapabilities{
			TextDocumentSync: &protocol.TextDocumentSyncOptions{OpenClose: true, Change: protocol.TextDocumentSyncKindIncremental},
			CompletionProvider: &protocol.CompletionOptions{
				TriggerCharacters: []string{`"`, ":", " ", "{", "|", "=", ".", "[", "-"},
			},
			HoverProvider: true,
			CodeActionProvider: &protocol.CodeActionOptions{
				CodeActionKinds: []protocol.CodeActionKind{protocol.QuickFix, protocol.RefactorRewrite},
			},
			ExecuteCommandProvider: &protocol.ExecuteCommandOptions{Commands: commands},
			Experimental: map[string]any{
				"mirrord": map[string]any{"methods": s.customMethods()},
			},
		}},
		ServerInfo: &protocol.ServerInfo{Name: "mirrord-ls", Version: s.opts.Version},
	}, nil
}

func (s *Server) initialized(_ context.Context, _ struct{}) error {
	s.watchSessions()
	s.mu.Lock()
	ws := s.caps.Workspace
	dynamic := ws != nil && ws.DidChangeWatchedFiles != nil && ws.DidChangeWatchedFiles.DynamicRegistration
	s.mu.Unlock()
	if !dynamic {
		return nil
	}
	// Ask the client to watch config files. This is a call to the client,
	// so it cannot wait on the read loop: run it aside.
	go func() {
		ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
		defer cancel()
		params := protocol.RegistrationParams{Registrations: []protocol.Registration{{
			ID:     "mirrord-config-watcher",
			Method: protocol.MethodWorkspaceDidChangeWatchedFiles,
			RegisterOptions: protocol.DidChangeWatchedFilesRegistrationOptions{Watchers: []protocol.FileSystemWatcher{
				{GlobPattern: "**/*mirrord.{json,yaml,yml,toml}"},
				{GlobPattern: "**/.mirrord/*.{json,yaml,yml,toml}"},
			}},
		}}}
		if _, err := s.conn.Call(ctx, protocol.MethodClientRegisterCapability, params, nil); err != nil && ctx.Err() == nil {
			s.log.Info("the client did not register the config file watcher", "error", err)
		}
	}()
	return nil
}

func (s *Server) shutdown(_ context.Context, _ json.RawMessage) (any, error) {
	if lifecycle(s.state.Load()) == stateNew {
		return nil, jsonrpc2.NewError(jsonrpc2.ServerNotInitialized, "the server is not initialized")
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
