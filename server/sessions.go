package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// Session methods: mirrord/startSession (with $/progress),
// mirrord/listSessions, mirrord/stopSession, mirrord/gitBranch and the
// mirrord/sessionsChanged notification (docs/protocol.md).

const (
	// CommandGitBranch is mirrord/gitBranch through workspace/executeCommand.
	CommandGitBranch = "mirrord.gitBranch"
	// progressTitle is the title of startSession's work-done progress, the
	// root task of `mirrord ext`.
	progressTitle = "mirrord preparing to launch"
	// sessionsChangedDelay coalesces bursts of session changes.
	sessionsChangedDelay = 150 * time.Millisecond
)

// workDoneProgress is the value of a $/progress notification.
type workDoneProgress struct {
	Kind        string `json:"kind"` // begin, report, end
	Title       string `json:"title,omitempty"`
	Cancellable *bool  `json:"cancellable,omitempty"`
	Message     string `json:"message,omitempty"`
}

type progressParams struct {
	Token any              `json:"token"`
	Value workDoneProgress `json:"value"`
}

// progressToken is the token startSession reports on: the client's
// workDoneToken, else one the server creates when the client supports
// window/workDoneProgress/create; nil means no $/progress.
func (s *Server) progressToken(ctx context.Context, p sessionapi.StartSessionParams) any {
	if p.WorkDoneToken != nil {
		return p.WorkDoneToken
	}
	s.mu.Lock()
	supported := s.caps.Window != nil && s.caps.Window.WorkDoneProgress
	s.mu.Unlock()
	if !supported {
		return nil
	}
	token := fmt.Sprintf("mirrord-session-%d", s.progressSeq.Add(1))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.conn.Call(cctx, "window/workDoneProgress/create", map[string]any{"token": token}, nil); err != nil {
		s.log.Debug("window/workDoneProgress/create failed", "error", err)
		return nil
	}
	return token
}

// startSession runs a session through the SessionManager, reporting each
// step as $/progress (and to the log).
func (s *Server) startSession(ctx context.Context, p sessionapi.StartSessionParams) (sessionapi.LaunchEnvironment, error) {
	if p.WorkspaceFolder == "" {
		p.WorkspaceFolder = s.firstFolder()
	} else if folder, err := pathOrURI(p.WorkspaceFolder); err == nil {
		p.WorkspaceFolder = folder
	} else {
		return sessionapi.LaunchEnvironment{}, jsonrpc2.NewError(jsonrpc2.InvalidParams, "workspaceFolder: "+err.Error())
	}
	if p.ConfigPath != "" {
		path, err := pathOrURI(p.ConfigPath)
		if err != nil {
			return sessionapi.LaunchEnvironment{}, jsonrpc2.NewError(jsonrpc2.InvalidParams, "configPath: "+err.Error())
		}
		p.ConfigPath = path
	}
	s.mu.Lock()
	p.ClientName = s.clientName
	s.mu.Unlock()
	if err := s.allowSession(ctx, p); err != nil {
		return sessionapi.LaunchEnvironment{}, sessionRPCError(&sessionapi.SessionError{
			Message: "mirrord: the workspace is not trusted",
			Causes:  []string{err.Error()},
			Help:    "Trust the workspace in your editor, or let the session use your own kubeconfig (KUBECONFIG or ~/.kube/config).",
		})
	}

	token := s.progressToken(ctx, p)
	// Progress goes out on a context of its own: the end must reach the
	// client even when the request was cancelled.
	send := func(v workDoneProgress) {
		if token == nil {
			return
		}
		nctx, cancel := context.WithTimeout(s.baseCtx, time.Second)
		defer cancel()
		s.notify(nctx, "$/progress", progressParams{Token: token, Value: v})
	}
	cancellable := true
	send(workDoneProgress{Kind: "begin", Title: progressTitle, Cancellable: &cancellable})
	launch, err := s.opts.Sessions.StartSession(ctx, p, func(msg string) {
		s.log.Info("session progress", "message", msg)
		send(workDoneProgress{Kind: "report", Message: msg})
	})
	if err != nil {
		msg := "failed: " + err.Error()
		if ctx.Err() != nil {
			msg = "cancelled"
		}
		send(workDoneProgress{Kind: "end", Message: msg})
		var se *sessionapi.SessionError
		if errors.As(err, &se) && ctx.Err() == nil {
			return sessionapi.LaunchEnvironment{}, sessionRPCError(se)
		}
		return sessionapi.LaunchEnvironment{}, err
	}
	send(workDoneProgress{Kind: "end", Message: "session " + launch.SessionID + " ready"})
	if launch.Warnings == nil {
		launch.Warnings = []string{}
	}
	if launch.EnvToUnset == nil {
		launch.EnvToUnset = []string{}
	}
	return launch, nil
}

// sessionRPCError is mirrord's error report as a JSON-RPC error.
func sessionRPCError(se *sessionapi.SessionError) *jsonrpc2.Error {
	if se.Causes == nil {
		se.Causes = []string{}
	}
	e := jsonrpc2.NewError(lsp.CodeRequestFailed, se.Error())
	if data, err := json.Marshal(se); err == nil {
		raw := json.RawMessage(data)
		e.Data = &raw
	}
	return e
}

func (s *Server) stopSession(ctx context.Context, p struct {
	SessionID string `json:"session_id"`
}) (any, error) {
	if p.SessionID == "" {
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "session_id is required")
	}
	return nil, s.opts.Sessions.StopSession(ctx, p.SessionID)
}

// gitBranch answers mirrord/gitBranch.
func (s *Server) gitBranch(ctx context.Context, p sessionapi.GitBranchParams) (sessionapi.GitBranchResult, error) {
	d, ok := s.opts.Sessions.(BranchDetector)
	if !ok {
		return sessionapi.GitBranchResult{}, jsonrpc2.NewError(jsonrpc2.MethodNotFound, "mirrord/gitBranch is not available")
	}
	folder, err := pathOrURI(p.Folder)
	if err != nil {
		return sessionapi.GitBranchResult{}, jsonrpc2.NewError(jsonrpc2.InvalidParams, "folder: "+err.Error())
	}
	if folder == "" {
		folder = s.firstFolder()
	}
	if folder == "" {
		return sessionapi.GitBranchResult{}, jsonrpc2.NewError(jsonrpc2.InvalidParams, "folder is required (no workspace folder is open)")
	}
	p.Folder = folder
	return d.GitBranch(ctx, p)
}

// watchSessions sends mirrord/sessionsChanged with the current list after
// every change of the session directory, coalescing bursts, until the
// connection ends.
func (s *Server) watchSessions() {
	w, ok := s.opts.Sessions.(SessionWatcher)
	if !ok {
		return
	}
	ctx := s.baseCtx
	changed := make(chan struct{}, 1)
	go func() {
		if err := w.Watch(ctx, func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}); err != nil && ctx.Err() == nil {
			s.log.Warn("watching sessions failed", "error", err)
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			// Quiet period: one notification for a burst.
			select {
			case <-ctx.Done():
				return
			case <-time.After(sessionsChangedDelay):
			}
			select {
			case <-changed:
			default:
			}
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			list, err := s.opts.Sessions.ListSessions(lctx)
			cancel()
			if err != nil {
				s.log.Warn("listing sessions failed", "error", err)
				continue
			}
			if list == nil {
				list = []sessionapi.SessionInfo{}
			}
			nctx, cancel := context.WithTimeout(ctx, time.Second)
			s.notify(nctx, "mirrord/sessionsChanged", sessionapi.SessionsChangedParams{Sessions: list})
			cancel()
		}
	}()
}
