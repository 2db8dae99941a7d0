package listing

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

// expected returns the paths of kinds, in listing order.
func expected(want map[string][]string, kinds []targetpath.Kind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, want[string(k)]...)
	}
	return out
}

func TestListerRealCluster(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	want := c.PopulateTargets(t, ns)
	ctx := context.Background()
	l := &Lister{Client: c.Client, Dynamic: c.Dynamic, PageSize: 2} // small pages: pagination is exercised

	t.Run("every kind", func(t *testing.T) {
		got, err := l.Targets(ctx, ns, Kinds)
		if err != nil {
			t.Fatal(err)
		}
		avail := paths(OnlyAvailable(slices.Clone(got)))
		if w := expected(want.Available, Kinds); !equal(avail, w) {
			t.Errorf("available:\n got %q\nwant %q", avail, w)
		}
		var unavail []string
		for _, tg := range got {
			if !tg.Available {
				unavail = append(unavail, tg.Path)
			}
		}
		// The pending pod is not returned at all: pods are listed with
		// status.phase=Running, as mirrord does.
		w := expected(want.Unavailable, Kinds)
		w = slices.DeleteFunc(w, func(p string) bool { return p == "pod/stuck" })
		if !equal(unavail, w) {
			t.Errorf("unavailable:\n got %q\nwant %q", unavail, w)
		}
		for _, tg := range got {
			if tg.Path == "deployment/web" && !equal(tg.Containers, []string{"app"}) {
				t.Errorf("deployment/web containers %q, want [app]", tg.Containers)
			}
		}
	})

	t.Run("open source kinds", func(t *testing.T) {
		got, err := l.Targets(ctx, ns, OpenSourceKinds)
		if err != nil {
			t.Fatal(err)
		}
		if p, w := paths(OnlyAvailable(got)), expected(want.Available, OpenSourceKinds); !equal(p, w) {
			t.Errorf("got %q\nwant %q", p, w)
		}
	})

	t.Run("no Rollout CRD is not an error", func(t *testing.T) {
		// The same code path as a cluster without Argo: the resource is not served.
		absent := &Lister{Client: c.Client, Dynamic: c.Dynamic,
			Rollouts: schema.GroupVersionResource{Group: "rollouts.absent.mirrord.test", Version: "v1", Resource: "rollouts"}}
		got, err := absent.Targets(ctx, ns, []targetpath.Kind{targetpath.Rollout})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want no targets and no error", got, err)
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		names, warnings, err := l.Namespaces(ctx, ns)
		if err != nil || len(warnings) != 0 {
			t.Fatalf("%v %q", err, warnings)
		}
		if !slices.Contains(names, ns) || !slices.Contains(names, "default") || !slices.IsSorted(names) {
			t.Errorf("namespaces %q: want sorted, with default and %s", names, ns)
		}
	})

	t.Run("limited user", func(t *testing.T) {
		c.GrantLimited(t, ns,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list"}})
		lc, err := kubernetes.NewForConfig(c.Limited)
		if err != nil {
			t.Fatal(err)
		}
		ld, err := dynamic.NewForConfig(c.Limited)
		if err != nil {
			t.Fatal(err)
		}
		limited := &Lister{Client: lc, Dynamic: ld}
		kubetest.Eventually(t, kubetest.WaitTimeout, "role binding effective", func(ctx context.Context) (bool, error) {
			_, err := limited.Targets(ctx, ns, []targetpath.Kind{targetpath.Pod})
			return err == nil, nil
		})
		got, err := limited.Targets(ctx, ns, []targetpath.Kind{targetpath.Pod, targetpath.Deployment})
		if err != nil {
			t.Fatal(err)
		}
		if p, w := paths(OnlyAvailable(got)), expected(want.Available, []targetpath.Kind{targetpath.Pod, targetpath.Deployment}); !equal(p, w) {
			t.Errorf("got %q\nwant %q", p, w)
		}
		names, warnings, err := limited.Namespaces(ctx, ns)
		if err != nil || !equal(names, []string{ns}) || len(warnings) != 1 || !strings.Contains(warnings[0], "not allowed to list namespaces") {
			t.Errorf("namespaces %q warnings %q err %v: want only %s with a warning", names, warnings, err, ns)
		}
		_, err = limited.Targets(ctx, ns, []targetpath.Kind{targetpath.Service})
		if err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("services: error %v, want forbidden", err)
		}
	})
}
