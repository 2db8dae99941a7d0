package targetpath

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
		canon   string
	}{
		{in: "targetless", want: Target{Kind: Targetless}},
		{in: "pod/api", want: Target{Kind: Pod, Name: "api"}},
		{in: "pod/api/container/app", want: Target{Kind: Pod, Name: "api", Container: "app"}},
		{in: "deploy/api", want: Target{Kind: Deployment, Name: "api"}, canon: "deployment/api"},
		{in: "deployment/api/container/c/extra/x", want: Target{Kind: Deployment, Name: "api", Container: "c"}, canon: "deployment/api/container/c"},
		{in: "rollout/r", want: Target{Kind: Rollout, Name: "r"}},
		{in: "job/j", want: Target{Kind: Job, Name: "j"}},
		{in: "cronjob/j", want: Target{Kind: CronJob, Name: "j"}},
		{in: "statefulset/s", want: Target{Kind: StatefulSet, Name: "s"}},
		{in: "service/s", want: Target{Kind: Service, Name: "s"}},
		{in: "replicaset/s", want: Target{Kind: ReplicaSet, Name: "s"}},
		{in: "pod/", want: Target{Kind: Pod}},
		{in: "label/app=api,tier=", want: Target{Kind: Label, Labels: []LabelPair{{"app", "api"}, {"tier", ""}}}},
		{in: "label/app.kubernetes.io/name=api/container/c", want: Target{Kind: Label, Labels: []LabelPair{{"app.kubernetes.io/name", "api"}}, Container: "c"}},
		{in: "pod", wantErr: "Did you remember to add a prefix"},
		{in: "api", wantErr: "Did you remember to add a prefix"},
		{in: "", wantErr: "Did you remember to add a prefix"},
		{in: "Pod/x", wantErr: "unknown target kind `Pod`"},
		{in: "targetless/x", wantErr: "unknown target kind"},
		{in: "pod/x/cont/y", wantErr: "expected `/container/<container>`"},
		{in: "pod/x/container", wantErr: "container name after `/container/` is missing"},
		{in: "pod/x/container/", wantErr: "container name after `/container/` is missing"},
		{in: "label/", wantErr: "at least one"},
		{in: "label/app", wantErr: "must be `key=value`"},
		{in: "label/=x", wantErr: "must be `key=value`"},
		{in: "label/a=1,a=2", wantErr: "duplicate label key `a`"},
		{in: "label/a=1/container/", wantErr: "must be non-empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.in
			}
			if s := got.String(); s != canon {
				t.Fatalf("String() = %q, want %q", s, canon)
			}
		})
	}
}

func TestObjectKeys(t *testing.T) {
	for _, k := range AllKinds() {
		if k == Targetless {
			continue
		}
		got, ok := KindOfObjectKey(k.ObjectKey())
		if !ok || got != k {
			t.Errorf("KindOfObjectKey(%q) = %v, %v", k.ObjectKey(), got, ok)
		}
	}
}

// FuzzParse checks that every accepted path prints to a canonical path
// that parses back to the same target, and that printing is idempotent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"targetless", "pod/a", "deploy/a/container/b", "label/a=b,c=d/container/e", "pod/a/container/b/c", "cronjob/", "label/x/y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			return
		}
		s2 := tg.String()
		tg2, err := Parse(s2)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, s2, err)
		}
		if !reflect.DeepEqual(tg, tg2) {
			t.Fatalf("round trip %q -> %q: %#v != %#v", s, s2, tg, tg2)
		}
		if tg2.String() != s2 {
			t.Fatalf("String not idempotent: %q vs %q", tg2.String(), s2)
		}
	})
}
