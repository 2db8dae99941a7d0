package clusterrpc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
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

// TestWireForms: every field of the shared types survives the wire (a
// field added to them without a JSON form fails the test), under the names
// docs/protocol.md gives.
func TestWireForms(t *testing.T) {
	q := targets.ClusterQuery{Field: targets.FieldContainer, Pointer: "/target/path/container", Prefix: "ap", Kind: "deployment",
		Document: `{"x": 1}`, Format: cursor.Format(2), Offset: 51, Path: "/w/mirrord.json"}
	for i := range reflect.TypeOf(q).NumField() {
		if reflect.ValueOf(q).Field(i).IsZero() {
			t.Fatalf("test query leaves %s empty", reflect.TypeOf(q).Field(i).Name)
		}
	}
	if got := roundTrip(t, q); got != q {
		t.Errorf("query %+v came back as %+v", q, got)
	}
	const wantQuery = `{"field":"container","pointer":"/target/path/container","prefix":"ap","kind":"deployment","document":"{\"x\": 1}","format":2,"offset":51,"path":"/w/mirrord.json"}`
	if b, _ := json.Marshal(q); string(b) != wantQuery {
		t.Errorf("query on the wire:\n%s\nwant\n%s", b, wantQuery)
	}
	for _, a := range []targets.ClusterAnswer{
		{Values: []targets.ClusterValue{{Value: "deployment/web", Detail: "deployment in ns", Documentation: "Containers: `app`"}}, Incomplete: true},
		{Values: []targets.ClusterValue{{Value: "ns"}}},
		{Incomplete: true},
	} {
		if got := roundTrip(t, a); !reflect.DeepEqual(got, a) {
			t.Errorf("answer %+v came back as %+v", a, got)
		}
	}
	ref := targets.ClusterRef{Kubeconfig: "/k", Context: "c", Namespace: "n"}
	if got := roundTrip(t, ref); got != ref {
		t.Errorf("ref %+v came back as %+v", ref, got)
	}
	check := targets.TargetCheck{Missing: true, Message: "m", Suggestion: "deployment/web"}
	if got := roundTrip(t, check); got != check {
		t.Errorf("check %+v came back as %+v", check, got)
	}
	const wantParams = `{"cluster":{"kubeconfig":"/k","context":"c","namespace":"n"},"path":"deployment/web"}`
	if b, _ := json.Marshal(TargetParams{Cluster: ref, Path: "deployment/web"}); string(b) != wantParams {
		t.Errorf("target params on the wire:\n%s\nwant\n%s", b, wantParams)
	}
}
