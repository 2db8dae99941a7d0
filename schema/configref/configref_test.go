package configref

import (
	"context"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

func TestFromText(t *testing.T) {
	tests := []struct {
		name   string
		format schema.Format
		text   string // "|" marks the cursor
		want   Ref
		value  string // the text of the target span ("" when none)
	}{
		{"json string form", schema.FormatJSON, `{"kubeconfig": "~/k", "kube_context": "dev", "target": {"namespace": "ns", "path": "deploy/api"}}|`,
			Ref{Kubeconfig: "~/k", Context: "dev", Namespace: "ns", Target: "deploy/api"}, `"deploy/api"`},
		{"json target shorthand", schema.FormatJSON, `{"target": "pod/x/container/c"}|`, Ref{Target: "pod/x/container/c"}, `"pod/x/container/c"`},
		{"json object form", schema.FormatJSON, `{"target": {"path": {"stateful_set": "db", "container": "pg"}}}|`,
			Ref{Target: "statefulset/db/container/pg", ObjectForm: true}, `"db"`},
		{"json half typed", schema.FormatJSON, `{"kube_context": "dev", "target": {"namespace": "ns", "path": "dep|`,
			Ref{Context: "dev", Namespace: "ns"}, ""},
		{"yaml", schema.FormatYAML, "kube_context: dev\ntarget:\n  namespace: ns\n  path: deployment/api\n|",
			Ref{Context: "dev", Namespace: "ns", Target: "deployment/api"}, "deployment/api"},
		{"yaml half typed line", schema.FormatYAML, "kube_context: dev\ntarget:\n  namespace: ns\n  path: [dep|\n",
			Ref{Context: "dev", Namespace: "ns"}, ""},
		{"toml", schema.FormatTOML, "kube_context = \"dev\"\n[target]\nnamespace = \"ns\"\npath = \"job/j\"\n|",
			Ref{Context: "dev", Namespace: "ns", Target: "job/j"}, `"job/j"`},
		{"toml half typed line", schema.FormatTOML, "[target]\nnamespace = \"ns\"\npath = \"job/|\n",
			Ref{Namespace: "ns"}, ""},
		{"no target", schema.FormatJSON, `{"target": {"namespace": "ns"}}|`, Ref{Namespace: "ns"}, ""},
		{"not an object", schema.FormatJSON, `[1, 2]|`, Ref{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off := strings.Index(tc.text, "|")
			text := tc.text[:off] + tc.text[off+1:]
			got := FromText(context.Background(), text, tc.format, off, nil)
			value := ""
			if got.HasSpan {
				value = text[got.TargetStart:got.TargetEnd]
			}
			got.TargetStart, got.TargetEnd, got.HasSpan = 0, 0, false
			if got != tc.want {
				t.Errorf("FromText = %+v, want %+v", got, tc.want)
			}
			if value != tc.value {
				t.Errorf("target span holds %q, want %q", value, tc.value)
			}
		})
	}
}

// FuzzFromText: any text, any offset, any format: no panic, and a span
// inside the text.
func FuzzFromText(f *testing.F) {
	for _, s := range []string{
		`{"target": {"namespace": "ns", "path": "deploy/api"}}`,
		`{"target": {"path": {"deployment": "x", "container": "c"}}}`,
		"target:\n  path:\n    pod: x\n",
		"[target]\npath = \"pod/x\"\n",
		`{"target": "pod/`,
	} {
		for fm := range 3 {
			f.Add(s, len(s)/2, fm)
		}
	}
	f.Fuzz(func(t *testing.T, text string, off, fm int) {
		format := schema.Format(((fm % 3) + 3) % 3)
		r := FromText(context.Background(), text, format, off, func(string) (string, bool) { return "", false })
		if r.HasSpan && (r.TargetStart < 0 || r.TargetEnd > len(text) || r.TargetStart > r.TargetEnd) {
			t.Fatalf("span %d..%d outside a text of %d bytes", r.TargetStart, r.TargetEnd, len(text))
		}
	})
}

func TestCluster(t *testing.T) {
	env := func(k string) (string, bool) { return "/home/u", k == "HOME" }
	for _, tc := range []struct {
		kubeconfig, configPath, want string
	}{
		{"~/.kube/x", "/w/.mirrord/mirrord.json", "/home/u/.kube/x"},
		{"kc", "/w/.mirrord/mirrord.json", "/w/.mirrord/kc"},
		{"/abs/kc", "/w/mirrord.json", "/abs/kc"},
		{"kc", "", "kc"},
		{"", "/w/mirrord.json", ""},
	} {
		got := Ref{Kubeconfig: tc.kubeconfig, Context: "c", Namespace: "n"}.Cluster(tc.configPath, env)
		if got.Kubeconfig != tc.want || got.Context != "c" || got.Namespace != "n" {
			t.Errorf("Cluster(%q, %q) = %+v, want kubeconfig %q", tc.kubeconfig, tc.configPath, got, tc.want)
		}
	}
}
