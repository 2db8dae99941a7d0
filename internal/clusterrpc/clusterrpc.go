// Package clusterrpc is the protocol between the language server and its
// cluster helper, the `mirrord cluster-serve --stdio` child process that
// holds the client-go target cache so that mirrord-ls does not link it.
//
// It is JSON-RPC 2.0 with the LSP header framing (Content-Length) on the
// helper's stdin/stdout (go.lsp.dev/jsonrpc2). Each method mirrors one
// question of the server's TargetCatalog or ClusterCompleter; "$/cancelRequest"
// ({"id": N}) cancels a request in flight. The helper exits when its stdin
// closes. Errors are JSON-RPC errors whose message is the text to show.
// docs/protocol.md documents the methods.
package clusterrpc

import (
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
)

// Methods of the cluster helper.
const (
	// MethodListTargets: ListTargetsParams → targets.TargetList.
	MethodListTargets = "listTargets"
	// MethodDescribeTarget: TargetParams → string (Markdown).
	MethodDescribeTarget = "describeTarget"
	// MethodCheckTarget: TargetParams → targets.TargetCheck.
	MethodCheckTarget = "checkTarget"
	// MethodComplete: targets.ClusterQuery → targets.ClusterAnswer.
	MethodComplete = "complete"
	// MethodNamespaces: targets.ClusterRef → Namespaces.
	MethodNamespaces = "namespaces"
	// MethodContexts: targets.ClusterRef (its kubeconfig) → Contexts.
	MethodContexts = "contexts"
	// MethodCancel is the notification that cancels a request: {"id": N}.
	MethodCancel = "$/cancelRequest"
)

// Error codes (as in LSP): a cancelled request, and a request that failed
// (the message says why).
const (
	CodeRequestCancelled = -32800
	CodeRequestFailed    = -32803
)

// ListTargetsParams of listTargets.
type ListTargetsParams struct {
	Cluster            targets.ClusterRef `json:"cluster"`
	Kinds              []string           `json:"kinds,omitempty"`
	IncludeUnavailable bool               `json:"includeUnavailable,omitempty"`
}

// TargetParams of describeTarget and checkTarget.
type TargetParams struct {
	Cluster targets.ClusterRef `json:"cluster"`
	Path    string             `json:"path"`
}

// Namespaces answers namespaces.
type Namespaces struct {
	Names    []string `json:"names"`
	Current  string   `json:"current"`
	Warnings []string `json:"warnings,omitempty"`
}

// Contexts answers contexts: the kubeconfig's contexts and its current one.
type Contexts struct {
	Names   []string `json:"names"`
	Current string   `json:"current"`
}
