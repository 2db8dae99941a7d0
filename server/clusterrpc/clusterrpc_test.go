package clusterrpc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
)

// roundTrip sends v through JSON as the helper protocol does.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConversions: every field of the server's types survives the wire
// (a field added to them but not here fails the test).
func TestConversions(t *testing.T) {
	q := assist.ClusterQuery{Field: assist.FieldContainer, Pointer: "/target/path/container", Prefix: "ap", Kind: "deployment",
		Document: `{"target": {"path": {"deployment": "web", "container": "ap"}}}`, Format: cursor.Format(2), Offset: 51, Path: "/w/mirrord.json"}
	for i := range reflect.TypeOf(q).NumField() {
		if reflect.ValueOf(q).Field(i).IsZero() {
			t.Fatalf("test query leaves %s empty", reflect.TypeOf(q).Field(i).Name)
		}
	}
	if got := roundTrip(t, FromQuery(q)).Query(); got != q {
		t.Errorf("query %+v came back as %+v", q, got)
	}
	for _, a := range []assist.ClusterAnswer{
		{Values: []assist.ClusterValue{{Value: "deployment/web", Detail: "deployment in ns", Documentation: "Containers: `app`"}}, Incomplete: true},
		{Values: []assist.ClusterValue{{Value: "ns"}}},
		{Incomplete: true},
	} {
		if got := roundTrip(t, FromAnswer(a)).Answer(); !reflect.DeepEqual(got, a) {
			t.Errorf("answer %+v came back as %+v", a, got)
		}
	}
	ref := server.ClusterRef{Kubeconfig: "/k", Context: "c", Namespace: "n"}
	if got := roundTrip(t, FromRef(ref)).Ref(); got != ref {
		t.Errorf("ref %+v came back as %+v", ref, got)
	}
	check := server.TargetCheck{Missing: true, Message: "m", Suggestion: "deployment/web"}
	if got := server.TargetCheck(roundTrip(t, TargetCheck(check))); got != check {
		t.Errorf("check %+v came back as %+v", check, got)
	}
}
