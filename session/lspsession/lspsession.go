// Package lspsession connects mirrord-ls (server.SessionManager) to the
// session package: mirrord/startSession, mirrord/listSessions and
// mirrord/stopSession, plus what mirrord/sessionsChanged and
// mirrord/gitBranch need (Watch, GitBranch). Wiring it is one line in
// cmd/mirrord-ls:
//
//	server.Options{..., Sessions: lspsession.New(&session.Manager{})}
package lspsession

import (
	"context"
	"errors"
	"time"

	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/session"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
)

// Sessions implements server.SessionManager over a session.Manager.
type Sessions struct{ m *session.Manager }

// New wraps m (its zero value uses ~/.mirrord/sessions and the mirrord
// binary next to mirrord-ls).
func New(m *session.Manager) *Sessions { return &Sessions{m: m} }

var _ server.SessionManager = (*Sessions)(nil)

// StartSession starts a session; progress receives one line per step
// ("resolving target", "resolving target: pod/x/container/app", warnings).
// Cancelling ctx ($/cancelRequest) tears the half-started session down.
func (s *Sessions) StartSession(ctx context.Context, p server.StartSessionParams, progress func(message string)) (server.LaunchEnvironment, error) {
	l, err := s.m.Start(ctx, session.Request{
		ConfigPath: p.ConfigPath, WorkspaceFolder: p.WorkspaceFolder, Target: p.Target,
		Executable: p.Executable, Env: p.Env,
		Progress: func(e session.Event) {
			if progress != nil {
				progress(Message(e))
			}
		},
	})
	if err != nil {
		return server.LaunchEnvironment{}, err
	}
	return server.LaunchEnvironment{SessionID: l.SessionID, Environment: l.Environment, EnvToUnset: l.EnvToUnset, Warnings: l.Warnings}, nil
}

// Message renders a progress event as one $/progress report message.
func Message(e session.Event) string {
	switch e.Kind {
	case session.TaskStarted:
		return e.Task
	case session.TaskFinished:
		if !e.Success {
			return e.Task + ": failed"
		}
		if e.Message == "" {
			return e.Task
		}
		return e.Task + ": " + e.Message
	case session.Warning:
		return "warning: " + e.Message
	default:
		return e.Message
	}
}

// ListSessions lists the live local sessions, oldest first.
func (s *Sessions) ListSessions(ctx context.Context) ([]server.SessionInfo, error) {
	infos, err := s.m.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]server.SessionInfo, 0, len(infos))
	for _, in := range infos {
		out = append(out, server.SessionInfo{
			SessionID: in.ID, Key: in.Key, Target: in.Target, Namespace: in.Namespace,
			StartedAt: in.StartedAt.UTC().Format(time.RFC3339), PID: in.PID,
		})
	}
	return out, nil
}

// StopSession stops a session and waits until it is gone.
func (s *Sessions) StopSession(ctx context.Context, id string) error {
	return s.m.Stop(ctx, id)
}

// Watch calls changed when sessions appear or end, until ctx ends (for
// mirrord/sessionsChanged).
func (s *Sessions) Watch(ctx context.Context, changed func()) error {
	err := s.m.Watch(ctx, changed)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// GitBranch answers mirrord/gitBranch.
func (s *Sessions) GitBranch(ctx context.Context, folder string, env map[string]string) (branch.Info, error) {
	return session.GitBranch(ctx, folder, env)
}
