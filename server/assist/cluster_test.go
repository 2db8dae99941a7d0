package assist

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

func TestClusterFieldOf(t *testing.T) {
	tests := []struct {
		pointer string
		field   targets.ClusterField
		kind    string
		ok      bool
	}{
		{"/target", targets.FieldTarget, "", true},
		{"/target/path", targets.FieldTarget, "", true},
		{"/target/path/deployment", targets.FieldTarget, "deployment", true},
		{"/target/path/stateful_set", targets.FieldTarget, "stateful_set", true},
		{"/target/path/container", targets.FieldContainer, "", true},
		{"/target/namespace", targets.FieldNamespace, "", true},
		{"/agent/namespace", targets.FieldNamespace, "", true},
		{"/target/path/labels", "", "", false},
		{"/target/path/nope", "", "", false},
		{"/target/path/deployment/x", "", "", false},
		{"/feature/fs", "", "", false},
	}
	for _, tc := range tests {
		f, k, ok := clusterFieldOf(tc.pointer)
		if f != tc.field || k != tc.kind || ok != tc.ok {
			t.Errorf("clusterFieldOf(%q) = %q, %q, %v; want %q, %q, %v", tc.pointer, f, k, ok, tc.field, tc.kind, tc.ok)
		}
	}
}

// recordingCluster records the queries it gets and answers fixed values.
type recordingCluster struct {
	got []targets.ClusterQuery
	ans targets.ClusterAnswer
}

func (r *recordingCluster) CompleteCluster(_ context.Context, q targets.ClusterQuery) (targets.ClusterAnswer, error) {
	r.got = append(r.got, q)
	return r.ans, nil
}

// TestClusterCompletionQuery: the engine passes the field, kind, prefix and
// document to the completer and forwards isIncomplete.
func TestClusterCompletionQuery(t *testing.T) {
	e, err := New(schema.JSONSchema())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format     cursor.Format
		text       string
		field      targets.ClusterField
		kind       string
		prefix     string
		incomplete bool
	}{
		{cursor.JSON, `{"target": {"path": "deploy/a|"}}`, targets.FieldTarget, "", "deploy/a", true},
		{cursor.JSON, `{"target": {"path": {"deployment": "|"}}}`, targets.FieldTarget, "deployment", "", false},
		{cursor.YAML, "agent:\n  namespace: st|\n", targets.FieldNamespace, "", "st", false},
		{cursor.TOML, "[target.path]\ncron_job = \"n|\"\n", targets.FieldTarget, "cron_job", "n", true},
	}
	for _, tc := range tests {
		rc := &recordingCluster{ans: targets.ClusterAnswer{Values: []targets.ClusterValue{{Value: "v-1"}}, Incomplete: tc.incomplete}}
		e.Cluster = rc
		off := strings.Index(tc.text, "|")
		text := tc.text[:off] + tc.text[off+1:]
		list, err := e.Complete(context.Background(), Request{Doc: textdoc.New(text), Offset: off, Format: tc.format, Path: "/w/mirrord.json"})
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if len(rc.got) != 1 {
			t.Fatalf("%q: %d cluster queries", tc.text, len(rc.got))
		}
		q := rc.got[0]
		if q.Field != tc.field || q.Kind != tc.kind || q.Prefix != tc.prefix || q.Document != text || q.Offset != off || q.Path != "/w/mirrord.json" {
			t.Errorf("%q: query %+v", tc.text, q)
		}
		if list.IsIncomplete != tc.incomplete || !slices.ContainsFunc(list.Items, func(it protocol.CompletionItem) bool { return it.Label == "v-1" }) {
			t.Errorf("%q: list incomplete=%v items=%d", tc.text, list.IsIncomplete, len(list.Items))
		}
	}
}
