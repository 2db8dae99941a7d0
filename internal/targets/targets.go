// Package targets holds what the language server and the cluster side
// say to each other about targets: a listing (TargetList), which cluster a
// config names (ClusterRef), the outcome of checking a config's target
// (TargetCheck) and the values only the cluster knows while a config is
// typed (ClusterQuery, ClusterAnswer). The server asks with these types;
// the kube-backed catalog (kube/clusterserve) answers with them; neither
// imports the other.
package targets

import "github.com/mirrord-ls/mirrord-ls/internal/cursor"

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

// The JSON forms are those of the cluster helper's protocol
// (internal/clusterrpc, docs/protocol.md).

// ClusterRef names a cluster and namespace the way a config does: an
// explicit kubeconfig file, a kube context and a namespace ("" for each:
// the defaults of the kubeconfig).
type ClusterRef struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
}

// TargetQuery asks for a listing.
type TargetQuery struct {
	Cluster            ClusterRef
	Kinds              []string
	IncludeUnavailable bool
}

// TargetCheck is the outcome of checking that a config's target exists.
// Missing is false when the target exists; otherwise Message explains and
// Suggestion is the closest existing target path ("" when none).
type TargetCheck struct {
	Missing    bool   `json:"missing"`
	Message    string `json:"message,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
}

// ClusterField names a config field whose values live in the cluster.
type ClusterField string

// Cluster fields.
const (
	FieldTarget    ClusterField = "target"    // a target path (pod/x, deployment/y/container/z)
	FieldNamespace ClusterField = "namespace" // a namespace
	FieldContainer ClusterField = "container" // a container of the chosen target
)

// ClusterQuery asks for cluster values for one field.
type ClusterQuery struct {
	Field   ClusterField `json:"field"`
	Pointer string       `json:"pointer,omitempty"` // JSON pointer of the field, e.g. /target/path
	Prefix  string       `json:"prefix"`            // what the user typed so far
	// Kind is set in the object form of a target ({"deployment": "…"}):
	// the object key of the kind whose names are wanted.
	Kind string `json:"kind,omitempty"`
	// Document and Format let the implementation read the context it needs
	// (kube_context, target.namespace) from the config being edited.
	Document string        `json:"document"`
	Format   cursor.Format `json:"format"`
	Offset   int           `json:"offset"`
	Path     string        `json:"path,omitempty"` // the document's path on disk ("" when unknown)
}

// ClusterValue is one proposed value.
type ClusterValue struct {
	Value         string `json:"value"`
	Detail        string `json:"detail,omitempty"`
	Documentation string `json:"documentation,omitempty"`
}

// ClusterAnswer is what a cluster completer proposes. Incomplete says the
// values are partial (the cluster did not answer within the completion
// budget): the editor is told to ask again as the user types.
type ClusterAnswer struct {
	Values     []ClusterValue `json:"values"`
	Incomplete bool           `json:"incomplete,omitempty"`
}
