package server

import (
	"context"

	"github.com/mirrord-ls/mirrord-ls/server/assist"
)

// Seams for the features that later issues add. A nil implementation in
// Options means the feature is absent: its methods are not registered (they
// answer MethodNotFound) and initialize does not advertise them.

// ClusterCompleter proposes targets, namespaces and containers while the
// user types a config (the kube-backed target cache implements it).
type ClusterCompleter = assist.ClusterCompleter

// ClusterQuery, ClusterValue and the field names are re-exported for
// implementers.
type (
	ClusterQuery = assist.ClusterQuery
	ClusterValue = assist.ClusterValue
)

// Target is one entry of mirrord/listTargets (docs/protocol.md).
type Target struct {
	Path       string   `json:"path"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Available  bool     `json:"available"`
	Containers []string `json:"containers,omitempty"`
}

// TargetList answers mirrord/listTargets.
type TargetList struct {
	Targets          []Target `json:"targets"`
	CurrentNamespace string   `json:"current_namespace"`
	Namespaces       []string `json:"namespaces"`
}

// ListTargetsParams of mirrord/listTargets.
type ListTargetsParams struct {
	ConfigPath  string   `json:"configPath,omitempty"`
	Namespace   string   `json:"namespace,omitempty"`
	TargetTypes []string `json:"targetTypes,omitempty"`
}

// TargetCatalog answers mirrord/listTargets from a watch-backed cache.
type TargetCatalog interface {
	ListTargets(ctx context.Context, p ListTargetsParams) (TargetList, error)
}

// StartSessionParams of mirrord/startSession.
type StartSessionParams struct {
	ConfigPath      string            `json:"configPath,omitempty"`
	Target          string            `json:"target,omitempty"`
	Executable      string            `json:"executable,omitempty"`
	WorkspaceFolder string            `json:"workspaceFolder,omitempty"`
	Env             map[string]string `json:"env,omitempty"`
	WorkDoneToken   any               `json:"workDoneToken,omitempty"`
}

// LaunchEnvironment answers mirrord/startSession.
type LaunchEnvironment struct {
	SessionID   string            `json:"session_id"`
	Environment map[string]string `json:"environment"`
	EnvToUnset  []string          `json:"env_to_unset"`
	Warnings    []string          `json:"warnings"`
}

// SessionInfo is one local session (mirrord/listSessions).
type SessionInfo struct {
	SessionID string `json:"session_id"`
	Key       string `json:"key"`
	Target    string `json:"target"`
	Namespace string `json:"namespace"`
	StartedAt string `json:"started_at"`
	PID       int    `json:"pid"`
}

// SessionManager starts, lists and stops sessions. Progress reporting and
// the mirrord/sessionsChanged notification go through Notifier.
type SessionManager interface {
	StartSession(ctx context.Context, p StartSessionParams, progress func(message string)) (LaunchEnvironment, error)
	ListSessions(ctx context.Context) ([]SessionInfo, error)
	StopSession(ctx context.Context, sessionID string) error
}
