// Package configref reads what a mirrord config says about the cluster:
// the kubeconfig file, the kube context, the target's namespace and the
// target path with the place of its value in the text. The language server
// uses it to ask the cluster about the config being edited, also while the
// text is half typed.
package configref

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

// Ref is the cluster side of a config.
type Ref struct {
	Kubeconfig string // the `kubeconfig` field ("" when unset)
	Context    string // `kube_context`
	Namespace  string // `target.namespace`
	// Target is the target path as written (string form) or as built from
	// the object form ({"deployment": "api"} gives "deployment/api"); ""
	// when the config names none.
	Target string
	// TargetStart and TargetEnd are the byte span of the target value in
	// the parsed text (for the object form: the name's value). Valid when
	// HasSpan.
	TargetStart, TargetEnd int
	HasSpan                bool
	// ObjectForm: the span covers only the name of an object-form target.
	ObjectForm bool
}

// Cluster is the cluster the config at configPath names: its kubeconfig
// with a leading "~/" expanded (HOME from lookupEnv) and a relative path
// taken from the config's folder, its kube context and namespace.
func (r Ref) Cluster(configPath string, lookupEnv func(string) (string, bool)) targets.ClusterRef {
	kc := r.Kubeconfig
	if kc != "" {
		kc = ExpandHome(kc, lookupEnv)
		if !filepath.IsAbs(kc) && configPath != "" {
			kc = filepath.Join(filepath.Dir(configPath), kc)
		}
	}
	return targets.ClusterRef{Kubeconfig: kc, Context: r.Context, Namespace: r.Namespace}
}

// ExpandHome turns a leading "~/" into the home directory.
func ExpandHome(path string, lookupEnv func(string) (string, bool)) string {
	if !strings.HasPrefix(path, "~/") {
		return path
	}
	if lookupEnv != nil {
		if home, ok := lookupEnv("HOME"); ok && home != "" {
			return filepath.Join(home, path[2:])
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, path[2:])
	}
	return path
}

// FromResult reads a verified config. Spans are offsets in res.Rendered,
// which equals the source unless the config is templated.
func FromResult(res *schema.Result) Ref {
	if res == nil || res.Root == nil {
		return Ref{}
	}
	root := res.Root
	var r Ref
	r.Kubeconfig = stringAt(root, "/kubeconfig")
	r.Context = stringAt(root, "/kube_context")
	r.Namespace = stringAt(root, "/target/namespace")
	target := locate(root, "/target")
	if target == nil {
		return r
	}
	if target.Kind == schema.KindObject {
		target = locate(root, "/target/path")
	}
	switch {
	case target == nil:
	case target.Kind == schema.KindString:
		r.Target = strings.TrimSpace(target.Str)
		r.TargetStart, r.TargetEnd, r.HasSpan = target.Start, target.End, true
	case target.Kind == schema.KindObject:
		var t targetpath.Target
		for _, m := range target.Members {
			if m.Value == nil || m.Value.Kind != schema.KindString {
				continue
			}
			if m.Key == "container" {
				t.Container = m.Value.Str
				continue
			}
			if k, ok := targetpath.KindOfObjectKey(m.Key); ok && k != targetpath.Label && t.Kind == "" {
				t.Kind, t.Name = k, m.Value.Str
				r.TargetStart, r.TargetEnd, r.HasSpan = m.Value.Start, m.Value.End, true
				r.ObjectForm = true
			}
		}
		if t.Kind != "" {
			r.Target = t.String()
		}
	}
	return r
}

// FromText reads a config text that may be half typed: when it does not
// parse, the line holding offset (where the user types) is blanked and the
// rest is read.
func FromText(ctx context.Context, text string, format schema.Format, offset int, env func(string) (string, bool)) Ref {
	opts := schema.Options{Path: "mirrord." + format.String(), Env: env, IDE: true}
	verified := text
	res := schema.Verify(ctx, []byte(text), opts)
	if res.Root == nil && format == schema.FormatJSON {
		// JSON is often one line: read the members that are intact.
		return Ref{
			Kubeconfig: jsonString(text, "kubeconfig"),
			Context:    jsonString(text, "kube_context"),
			Namespace:  jsonString(text, "target", "namespace"),
		}
	}
	if res.Root == nil && offset >= 0 && offset <= len(text) {
		start := strings.LastIndexByte(text[:offset], '\n') + 1
		end := len(text)
		if i := strings.IndexByte(text[offset:], '\n'); i >= 0 {
			end = offset + i
		}
		blanked := text[:start] + strings.Repeat(" ", end-start) + text[end:]
		verified = blanked
		res = schema.Verify(ctx, []byte(blanked), opts)
	}
	r := FromResult(res)
	if string(res.Rendered) != verified {
		// Templated: the spans are in the rendered text, not in text.
		r.HasSpan = false
	}
	return r
}

func locate(root *schema.Node, pointer string) *schema.Node {
	// Locate stops at the deepest ancestor that exists: the member found
	// must be the pointer's last key. (The pointers used here hold no
	// escaped characters.)
	n, m := root.Locate(pointer)
	if m == nil || n != m.Value || m.Key != pointer[strings.LastIndexByte(pointer, '/')+1:] {
		return nil
	}
	return n
}

func stringAt(root *schema.Node, pointer string) string {
	if n := locate(root, pointer); n != nil && n.Kind == schema.KindString {
		return n.Str
	}
	return ""
}

// jsonString reads the string member at keys of a possibly broken JSON
// text ("" when it is absent, broken or not a string).
func jsonString(text string, keys ...string) string {
	_, start, end, ok := cursor.JSONValueSpan(text, keys)
	var v string
	if !ok || json.Unmarshal([]byte(text[start:end]), &v) != nil {
		return ""
	}
	return v
}
