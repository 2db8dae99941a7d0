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
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
)

// Methods of the cluster helper.
const (
	// MethodListTargets: ListTargetsParams → server.TargetList.
	MethodListTargets = "listTargets"
	// MethodDescribeTarget: TargetParams → string (Markdown).
	MethodDescribeTarget = "describeTarget"
	// MethodCheckTarget: TargetParams → TargetCheck.
	MethodCheckTarget = "checkTarget"
	// MethodComplete: CompleteParams → ClusterAnswer.
	MethodComplete = "complete"
	// MethodNamespaces: Cluster → Namespaces.
	MethodNamespaces = "namespaces"
	// MethodContexts: Cluster (its kubeconfig) → Contexts.
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

// Cluster names a cluster and namespace ("" each: the kubeconfig's
// defaults).
type Cluster struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
}

// FromRef and Ref convert between Cluster and server.ClusterRef.
func FromRef(r server.ClusterRef) Cluster {
	return Cluster{Kubeconfig: r.Kubeconfig, Context: r.Context, Namespace: r.Namespace}
}

// Ref is the server's form of c.
func (c Cluster) Ref() server.ClusterRef {
	return server.ClusterRef{Kubeconfig: c.Kubeconfig, Context: c.Context, Namespace: c.Namespace}
}

// ListTargetsParams of listTargets.
type ListTargetsParams struct {
	Cluster            Cluster  `json:"cluster"`
	Kinds              []string `json:"kinds,omitempty"`
	IncludeUnavailable bool     `json:"includeUnavailable,omitempty"`
}

// TargetParams of describeTarget and checkTarget.
type TargetParams struct {
	Cluster Cluster `json:"cluster"`
	Path    string  `json:"path"`
}

// TargetCheck answers checkTarget (server.TargetCheck on the wire).
type TargetCheck struct {
	Missing    bool   `json:"missing"`
	Message    string `json:"message,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
}

// CompleteParams of complete: the server's ClusterQuery.
type CompleteParams struct {
	Field    string `json:"field"`
	Pointer  string `json:"pointer,omitempty"`
	Prefix   string `json:"prefix"`
	Kind     string `json:"kind,omitempty"`
	Document string `json:"document"`
	Format   int    `json:"format"`
	Offset   int    `json:"offset"`
	Path     string `json:"path,omitempty"`
}

// ClusterValue is one proposed value.
type ClusterValue struct {
	Value         string `json:"value"`
	Detail        string `json:"detail,omitempty"`
	Documentation string `json:"documentation,omitempty"`
}

// ClusterAnswer answers complete.
type ClusterAnswer struct {
	Values     []ClusterValue `json:"values"`
	Incomplete bool           `json:"incomplete,omitempty"`
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

// FromQuery is the wire form of a server ClusterQuery.
func FromQuery(q assist.ClusterQuery) CompleteParams {
	return CompleteParams{Field: string(q.Field), Pointer: q.Pointer, Prefix: q.Prefix, Kind: q.Kind,
		Document: q.Document, Format: int(q.Format), Offset: q.Offset, Path: q.Path}
}

// Query is the server's form of p.
func (p CompleteParams) Query() assist.ClusterQuery {
	return assist.ClusterQuery{Field: assist.ClusterField(p.Field), Pointer: p.Pointer, Prefix: p.Prefix, Kind: p.Kind,
		Document: p.Document, Format: cursor.Format(p.Format), Offset: p.Offset, Path: p.Path}
}

// FromAnswer is the wire form of a ClusterAnswer.
func FromAnswer(a assist.ClusterAnswer) ClusterAnswer {
	out := ClusterAnswer{Values: make([]ClusterValue, len(a.Values)), Incomplete: a.Incomplete}
	for i, v := range a.Values {
		out.Values[i] = ClusterValue(v)
	}
	return out
}

// Answer is the server's form of a.
func (a ClusterAnswer) Answer() assist.ClusterAnswer {
	out := assist.ClusterAnswer{Incomplete: a.Incomplete}
	for _, v := range a.Values {
		out.Values = append(out.Values, assist.ClusterValue(v))
	}
	return out
}
