// Package server is mirrord-ls: a language server for mirrord config files
// (diagnostics, completion, hover, code actions) and the backend of the
// editor extensions (the mirrord/* methods), over JSON-RPC 2.0 with LSP
// framing: go.lsp.dev/jsonrpc2 (v0.10) runs the connection over the
// tolerant framing of package wire, and the messages are
// go.lsp.dev/protocol's types (package lsp adds the few that protocol
// v0.12.0 cannot express).
//
// Requests are dispatched through a method table (methods.go). Lifecycle
// rules follow the LSP specification: requests before initialize answer
// ServerNotInitialized, requests after shutdown answer InvalidRequest, and
// Serve's exit code is 0 only when exit follows shutdown.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/schema/configref"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

// Options configure a Server.
type Options struct {
	// Version is reported in serverInfo.
	Version string
	// Log receives the server's log (the --log-file). nil: discarded.
	Log io.Writer
	// LogLevel of the log file and of window/logMessage.
	LogLevel slog.Level
	// LookupEnv reads the environment (KUBECONFIG, MIRRORD_* overrides).
	// nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// DiagnosticsDelay is a quiet period after an edit before validation
	// starts. 0 validates at once and coalesces edits that arrive while a
	// validation runs (the newest version wins).
	DiagnosticsDelay time.Duration
	// Cluster adds cluster-aware completion (targets, namespaces, containers).
	Cluster ClusterCompleter
	// Targets implements mirrord/listTargets.
	Targets TargetCatalog
	// Sessions implements mirrord/startSession, listSessions, stopSession.
	Sessions SessionManager
	// RequestTimeout is the deadline of each async request (completion,
	// hover, code actions, the mirrord/* queries; not a session start):
	// past it the request is cancelled and answered RequestFailed.
	// 0: DefaultRequestTimeout; negative: none.
	RequestTimeout time.Duration
}

type lifecycle int32

const (
	stateNew lifecycle = iota
	stateInitialized
	stateShutdown
)

// Server is one language server connection.
type Server struct {
	opts    Options
	log     *slog.Logger
	engine  *assist.Engine
	methods map[string]method

	conn     jsonrpc2.Conn
	inflight inflight
	// handlers counts the requests running off the read loop.
	handlers sync.WaitGroup
	state    atomic.Int32
	exit     chan struct{}
	exitOnce sync.Once

	docs  *documents
	diags *diagnoser
	// trust is the workspace's trust (initializationOptions,
	// mirrord/didChangeWorkspaceTrust, workspace/didChangeConfiguration).
	trust trust

	mu      sync.Mutex
	folders []string
	caps    protocol.ClientCapabilities
	// enc is the position encoding negotiated in initialize.
	enc textdoc.Encoding
	// clientName is the editor's name from initialize (MIRRORD_IDE_NAME).
	clientName string
	// progressSeq numbers the work-done tokens the server creates.
	progressSeq atomic.Int64
	delay       time.Duration // diagnostics delay (Options or initializationOptions)
	// parentPoll is how often the editor process named in initialize is
	// checked; the server exits when it is gone.
	parentPoll time.Duration
	baseCtx    context.Context
	stopBase   context.CancelFunc
}

// New builds a server.
func New(opts Options) (*Server, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	engine, err := assist.New(schema.JSONSchema())
	if err != nil {
		return nil, fmt.Errorf("loading the config schema: %w", err)
	}
	engine.Functions, engine.Filters, engine.Variables = templateDocs()
	lookup := opts.LookupEnv
	engine.KubeContexts = func(ctx context.Context, kubeconfig string) ([]assist.KubeContext, error) {
		paths := assist.KubeconfigPaths(lookup)
		if kubeconfig != "" {
			// The config's own kubeconfig wins, as it does for mirrord.
			paths = []string{configref.ExpandHome(kubeconfig, lookup)}
		}
		return assist.ReadKubeContexts(ctx, paths)
	}
	s := &Server{
		opts:   opts,
		log:    slog.New(slog.DiscardHandler),
		engine: engine,
		exit:   make(chan struct{}),
		docs:   newDocuments(),
	}
	if opts.Cluster != nil {
		// Cluster completion goes through the workspace-trust gate.
		engine.Cluster = trustGate{s: s, next: opts.Cluster}
	}
	s.delay = opts.DiagnosticsDelay
	s.parentPoll = 3 * time.Second
	s.diags = newDiagnoser(s)
	s.methods = s.methodTable()
	return s, nil
}

// Serve runs the server on a stdio-like transport until the client sends
// exit or closes the transport. It returns the process exit code: 0 when
// exit followed shutdown, 1 otherwise.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer, c io.Closer) int {
	stream := wire.NewSplit(r, w, c)
	return s.ServeStream(ctx, stream)
}

// ServeStream is Serve over an existing stream.
func (s *Server) ServeStream(ctx context.Context, stream *wire.Stream) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.baseCtx, s.stopBase = ctx, cancel
	s.conn = jsonrpc2.NewConn(stream)
	s.log = s.newLogger()
	stream.OnBadInput = func(err error) { s.log.Warn("bad input from the client", "error", err) }
	s.conn.Go(ctx, s.handle)
	s.log.Info("mirrord-ls started", "version", s.opts.Version, "pid", os.Getpid())

	select {
	case <-s.exit:
	case <-s.conn.Done():
	case <-ctx.Done():
	}
	shutdownSeen := lifecycle(s.state.Load()) == stateShutdown
	exited := false
	select {
	case <-s.exit:
		exited = true
	default:
	}
	cancel()
	s.diags.stop()
	_ = s.conn.Close()
	stopped := make(chan struct{})
	go func() {
		<-s.conn.Done()
		// The read loop has ended, so no handler starts any more.
		s.handlers.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		// A reader blocked on a stdin that never closes cannot be
		// interrupted; the process exits anyway.
	}
	if exited && shutdownSeen {
		return 0
	}
	return 1
}

func (s *Server) newLogger() *slog.Logger {
	level := &slog.LevelVar{}
	level.Set(s.opts.LogLevel)
	var hs fanoutHandler
	if s.opts.Log != nil {
		hs = append(hs, slog.NewTextHandler(s.opts.Log, &slog.HandlerOptions{Level: level}))
	}
	hs = append(hs, &clientLogHandler{level: level, send: s.logToClient})
	return slog.New(hs)
}

func (s *Server) logToClient(t protocol.MessageType, msg string) {
	if s.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.conn.Notify(ctx, protocol.MethodWindowLogMessage, protocol.LogMessageParams{Type: t, Message: msg})
}

// cancelRequest handles $/cancelRequest. It runs on the read loop, and
// every cancellable request runs off it, so a cancel reaches a request that
// is still running.
func (s *Server) cancelRequest(params json.RawMessage) {
	var p protocol.CancelParams
	if err := json.Unmarshal(params, &p); err != nil || p.ID == nil {
		s.log.Warn("malformed $/cancelRequest", "params", string(params))
		return
	}
	switch id := p.ID.(type) {
	case float64:
		if id == math.Trunc(id) && id >= math.MinInt32 && id <= math.MaxInt32 {
			s.inflight.cancel(jsonrpc2.NewNumberID(int32(id)))
		}
	case string:
		s.inflight.cancel(jsonrpc2.NewStringID(id))
	}
}

// notify sends a notification to the client, logging failures.
func (s *Server) notify(ctx context.Context, method string, params any) {
	if err := s.conn.Notify(ctx, method, params); err != nil && ctx.Err() == nil {
		s.log.Debug("notification not sent", "method", method, "error", err)
	}
}

func (s *Server) signalExit() {
	s.exitOnce.Do(func() { close(s.exit) })
}

// encoding is the negotiated position encoding (UTF-16 before initialize).
func (s *Server) encoding() textdoc.Encoding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc
}

func (s *Server) diagnosticsDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delay
}

// watchParent ends the session when the editor process dies without
// telling (LSP: the server exits if processId is gone).
func (s *Server) watchParent(pid int) {
	s.mu.Lock()
	every := s.parentPoll
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.baseCtx.Done():
				return
			case <-t.C:
				if !processAlive(pid) {
					s.log.Warn("the editor process is gone; exiting", "pid", pid)
					s.signalExit()
					return
				}
			}
		}
	}()
}
