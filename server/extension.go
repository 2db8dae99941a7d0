package server

import (
	"context"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
)

// Seams for the features that later issues add. A nil implementation in
// Options means the feature is absent: its methods are not registered (they
// answer MethodNotFound) and initialize does not advertise them.

// ClusterCompleter proposes targets, namespaces and containers while the
// user types a config (the kube-backed target cache implements it).
type ClusterCompleter = assist.ClusterCompleter

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

// TargetCatalog answers mirrord/listTargets, target hovers and the
// missing-target diagnostic from a watch-backed cache.
type TargetCatalog interface {
	ListTargets(ctx context.Context, q targets.TargetQuery) (targets.TargetList, error)
	// DescribeTarget renders what the cluster knows about a target path
	// as Markdown (its pods, readiness, nodes, containers).
	DescribeTarget(ctx context.Context, c targets.ClusterRef, path string) (string, error)
	// CheckTarget reports whether a target path exists. An error means it
	// could not be checked (e.g. the cluster is unreachable).
	CheckTarget(ctx context.Context, c targets.ClusterRef, path string) (targets.TargetCheck, error)
}

// SessionManager starts, lists and stops sessions. Progress reporting and
// the mirrord/sessionsChanged notification go through Notifier.
type SessionManager interface {
	StartSession(ctx context.Context, p sessionapi.StartSessionParams, progress func(message string)) (sessionapi.LaunchEnvironment, error)
	ListSessions(ctx context.Context) ([]sessionapi.SessionInfo, error)
	StopSession(ctx context.Context, sessionID string) error
}

// SessionWatcher is implemented by a SessionManager that can tell when
// sessions appear or end; the server then sends mirrord/sessionsChanged.
type SessionWatcher interface {
	// Watch calls changed after each change until ctx ends.
	Watch(ctx context.Context, changed func()) error
}

// BranchDetector answers mirrord/gitBranch.
type BranchDetector interface {
	GitBranch(ctx context.Context, p sessionapi.GitBranchParams) (sessionapi.GitBranchResult, error)
}
