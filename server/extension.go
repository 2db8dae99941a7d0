package server

import (
	"context"

	"go.lsp.dev/protocol"

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
	ClusterQuery  = assist.ClusterQuery
	ClusterValue  = assist.ClusterValue
	ClusterAnswer = assist.ClusterAnswer
)

// Target is one entry of mirrord/listTargets (docs/protocol.md).
type Target struct {
	Path       string   `json:"path"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name,omitempty"`
	Namespace  string   `json:"namespace"`
	Available  bool     `json:"available"`
	Containers []string `json:"containers,omitempty"`
}

// TargetList answers mirrord/listTargets.
type TargetList struct {
	Targets          []Target `json:"targets"`
	CurrentNamespace string   `json:"current_namespace"`
	Namespaces       []string `json:"namespaces"`
	Warnings         []string `json:"warnings"`
}

// ListTargetsParams of mirrord/listTargets. The cluster (kubeconfig,
// kube_context) and the namespace come from the config named by ConfigURI
// (an open document as the editor holds it) or ConfigPath; Namespace
// overrides the config's target.namespace.
type ListTargetsParams struct {
	ConfigURI  protocol.DocumentURI `json:"configUri,omitempty"`
	ConfigPath string               `json:"configPath,omitempty"`
	Namespace  string               `json:"namespace,omitempty"`
	// Kinds to list (pod, deployment, rollout, statefulset, replicaset,
	// job, cronjob, service); empty: pod, deployment, rollout.
	Kinds []string `json:"kinds,omitempty"`
	// TargetTypes is the older name of Kinds (the extension contract).
	TargetTypes []string `json:"targetTypes,omitempty"`
	// IncludeUnavailable also returns targets without a usable pod now.
	IncludeUnavailable bool `json:"includeUnavailable,omitempty"`
}

// ClusterRef names a cluster and namespace the way a config does: an
// explicit kubeconfig file, a kube context and a namespace ("" for each:
// the defaults of the kubeconfig).
type ClusterRef struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// TargetQuery asks a TargetCatalog for a listing.
type TargetQuery struct {
	Cluster            ClusterRef
	Kinds              []string
	IncludeUnavailable bool
}

// TargetCheck is the outcome of checking that a config's target exists.
// Missing is false when the target exists; otherwise Message explains and
// Suggestion is the closest existing target path ("" when none).
type TargetCheck struct {
	Missing    bool
	Message    string
	Suggestion string
}

// TargetCatalog answers mirrord/listTargets, target hovers and the
// missing-target diagnostic from a watch-backed cache.
type TargetCatalog interface {
	ListTargets(ctx context.Context, q TargetQuery) (TargetList, error)
	// DescribeTarget renders what the cluster knows about a target path
	// as Markdown (its pods, readiness, nodes, containers).
	DescribeTarget(ctx context.Context, c ClusterRef, path string) (string, error)
	// CheckTarget reports whether a target path exists. An error means it
	// could not be checked (e.g. the cluster is unreachable).
	CheckTarget(ctx context.Context, c ClusterRef, path string) (TargetCheck, error)
}

// StartSessionParams of mirrord/startSession.
type StartSessionParams struct {
	ConfigPath      string            `json:"configPath,omitempty"`
	Target          string            `json:"target,omitempty"`
	Executable      string            `json:"executable,omitempty"`
	WorkspaceFolder string            `json:"workspaceFolder,omitempty"`
	Env             map[string]string `json:"env,omitempty"`
	WorkDoneToken   any               `json:"workDoneToken,omitempty"`
	// ClientName is the editor's name from initialize (MIRRORD_IDE_NAME);
	// the server fills it in.
	ClientName string `json:"-"`
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

// SessionError is a failed session start with mirrord's report (the
// `Error: {json}` of `mirrord ext`). mirrord/startSession answers it as a
// JSON-RPC error whose data is this object.
type SessionError struct {
	Message string   `json:"message"`
	Causes  []string `json:"causes"`
	Help    string   `json:"help,omitempty"`
}

func (e *SessionError) Error() string {
	if len(e.Causes) == 0 {
		return e.Message
	}
	msg := e.Message
	for _, c := range e.Causes {
		msg += ": " + c
	}
	return msg
}

// SessionWatcher is implemented by a SessionManager that can tell when
// sessions appear or end; the server then sends mirrord/sessionsChanged.
type SessionWatcher interface {
	// Watch calls changed after each change until ctx ends.
	Watch(ctx context.Context, changed func()) error
}

// GitBranchParams of mirrord/gitBranch.
type GitBranchParams struct {
	// Folder (a path or file URI); default: the first workspace folder.
	Folder string `json:"folder,omitempty"`
	// Env is the launch environment (MIRRORD_BRANCH_NAME wins).
	Env map[string]string `json:"env,omitempty"`
}

// GitBranchResult answers mirrord/gitBranch.
type GitBranchResult struct {
	Branch   string `json:"branch,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Detached bool   `json:"detached"`
	Root     string `json:"root,omitempty"`
	Source   string `json:"source"` // env, git, none
}

// BranchDetector answers mirrord/gitBranch.
type BranchDetector interface {
	GitBranch(ctx context.Context, p GitBranchParams) (GitBranchResult, error)
}

// SessionsChangedParams of the mirrord/sessionsChanged notification.
type SessionsChangedParams struct {
	Sessions []SessionInfo `json:"sessions"`
}
