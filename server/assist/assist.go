// Package assist computes the editor features of a mirrord config document:
// completion, hover and code actions. It is pure (no I/O of its own except
// through the KubeContexts and ClusterCompleter hooks) so the server can run
// it on a document snapshot and tests can call it directly.
package assist

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/server/schemadoc"
)

// TemplateDoc documents one template function or filter.
type TemplateDoc struct {
	Name        string
	Signature   string
	Description string
}

// TemplateVariable documents one variable of the template context.
type TemplateVariable struct {
	Name        string
	Description string
}

// ClusterCompleter proposes values that only the cluster knows: targets,
// namespaces, containers. The server works without one; the kube-backed
// target cache plugs in here. It must answer quickly: an error fails the
// completion, so a slow or unreachable cluster is an Incomplete answer.
type ClusterCompleter interface {
	CompleteCluster(ctx context.Context, q targets.ClusterQuery) (targets.ClusterAnswer, error)
}

// clusterFields maps config pointers to cluster fields.
var clusterFields = map[string]targets.ClusterField{
	"/target":                targets.FieldTarget,
	"/target/path":           targets.FieldTarget,
	"/target/namespace":      targets.FieldNamespace,
	"/agent/namespace":       targets.FieldNamespace,
	"/target/path/container": targets.FieldContainer,
}

// clusterFieldOf returns the cluster field of a pointer, and for the
// object form of a target path (/target/path/deployment) the kind's key.
func clusterFieldOf(pointer string) (targets.ClusterField, string, bool) {
	if f, ok := clusterFields[pointer]; ok {
		return f, "", true
	}
	if key, ok := strings.CutPrefix(pointer, "/target/path/"); ok && key != "" && !strings.Contains(key, "/") {
		if _, isKind := targetpath.KindOfObjectKey(key); isKind && key != "labels" {
			return targets.FieldTarget, key, true
		}
	}
	return "", "", false
}

// Engine holds what the features need: the schema and the template docs.
type Engine struct {
	schema    *schemadoc.Schema
	Functions []TemplateDoc
	Filters   []TemplateDoc
	Variables []TemplateVariable
	// KubeContexts lists kube context names (nil: none offered).
	// kubeconfig is the config's own `kubeconfig` field ("" when unset),
	// which takes precedence over KUBECONFIG as it does for mirrord.
	KubeContexts func(ctx context.Context, kubeconfig string) ([]KubeContext, error)
	// Cluster proposes targets, namespaces, containers (nil: none offered).
	Cluster ClusterCompleter
}

// New returns an engine over a JSON Schema.
func New(schemaJSON []byte) (*Engine, error) {
	s, err := schemadoc.Parse(schemaJSON)
	if err != nil {
		return nil, err
	}
	return &Engine{schema: s}, nil
}

// lookup walks the schema along a cursor path.
func (e *Engine) lookup(path []cursor.Seg) schemadoc.Set {
	st := e.schema.Root()
	for _, seg := range path {
		if st.Empty() {
			return st
		}
		if seg.IsIndex {
			st = st.Item(seg.Index)
		} else {
			st = st.Property(seg.Key)
		}
	}
	return st
}

// Lookup returns the schema set at a JSON-pointer-like key path.
func (e *Engine) Lookup(keys ...string) schemadoc.Set {
	path := make([]cursor.Seg, len(keys))
	for i, k := range keys {
		path[i] = cursor.Seg{Key: k}
	}
	return e.lookup(path)
}

// jsonText renders a value as JSON.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// docMarkdown renders a field's documentation.
func docMarkdown(name string, st schemadoc.Set) string {
	var b strings.Builder
	if name != "" {
		b.WriteString("**")
		b.WriteString(name)
		b.WriteString("**: `")
		b.WriteString(st.TypeSummary())
		b.WriteString("`\n\n")
	}
	if d := st.Description(); d != "" {
		b.WriteString(d)
		b.WriteString("\n\n")
	}
	if def, ok := st.Default(); ok && def != nil {
		b.WriteString("Default: `")
		b.WriteString(jsonText(def))
		b.WriteString("`\n")
	}
	if st.Deprecated() {
		b.WriteString("\n*Deprecated.*\n")
	}
	return strings.TrimSpace(b.String())
}
