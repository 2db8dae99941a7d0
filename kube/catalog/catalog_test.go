package catalog

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

const limitedContext = "mirrord-local-limited"

func paths(ts []listing.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Path
	}
	return out
}

func expected(want map[string][]string, kinds []targetpath.Kind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, want[string(k)]...)
	}
	return out
}

// env makes the catalog read the test cluster's kubeconfig.
func env(c *kubetest.Cluster) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if name == "KUBECONFIG" {
			return c.Kubeconfig, true
		}
		return os.LookupEnv(name)
	}
}

func TestCatalogRealCluster(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	want := c.PopulateTargets(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := New(Options{LookupEnv: env(c)})
	defer cat.Close()

	t.Run("same as a LIST", func(t *testing.T) {
		got, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: listing.Kinds})
		if err != nil {
			t.Fatal(err)
		}
		l := &listing.Lister{Client: c.Client, Dynamic: c.Dynamic}
		listed, err := l.Targets(ctx, ns, listing.Kinds)
		if err != nil {
			t.Fatal(err)
		}
		if p, w := paths(got.Targets), paths(listing.OnlyAvailable(listed)); !slices.Equal(p, w) {
			t.Errorf("catalog %q\n   LIST %q", p, w)
		}
		if p, w := paths(got.Targets), expected(want.Available, listing.Kinds); !slices.Equal(p, w) {
			t.Errorf("catalog %q\n   want %q", p, w)
		}
		if got.CurrentNamespace != ns || !slices.Contains(got.Namespaces, ns) || len(got.Warnings) != 0 {
			t.Errorf("current %q namespaces %q warnings %q", got.CurrentNamespace, got.Namespaces, got.Warnings)
		}
	})

	t.Run("unavailable included on request", func(t *testing.T) {
		got, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: listing.Kinds, IncludeUnavailable: true})
		if err != nil {
			t.Fatal(err)
		}
		var unavail []string
		for _, tg := range got.Targets {
			if !tg.Available {
				unavail = append(unavail, tg.Path)
			}
		}
		if w := expected(want.Unavailable, listing.Kinds); !slices.Equal(unavail, w) {
			t.Errorf("unavailable %q\n       want %q", unavail, w)
		}
	})

	t.Run("default kinds and namespace", func(t *testing.T) {
		got, err := cat.ListTargets(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if got.CurrentNamespace != "default" {
			t.Errorf("current namespace %q, want the context's (default)", got.CurrentNamespace)
		}
		for _, tg := range got.Targets {
			if !slices.Contains(listing.OpenSourceKinds, tg.Kind) {
				t.Errorf("unexpected kind in %s", tg.Path)
			}
		}
	})

	t.Run("new pod appears", func(t *testing.T) {
		c.CreatePod(t, ns, kubetest.Pod("late", nil, nil, "app"))
		kubetest.Eventually(t, 5*time.Second, "pod/late in the catalog", func(ctx context.Context) (bool, error) {
			got, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: []targetpath.Kind{targetpath.Pod}})
			return err == nil && slices.Contains(paths(got.Targets), "pod/late"), err
		})
		if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		kubetest.Eventually(t, 5*time.Second, "pod/late gone from the catalog", func(ctx context.Context) (bool, error) {
			got, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: []targetpath.Kind{targetpath.Pod}})
			return err == nil && !slices.Contains(paths(got.Targets), "pod/late"), err
		})
	})

	t.Run("describe", func(t *testing.T) {
		tests := []struct {
			target, chosen, container, problem, warning string
			pods                                        int
		}{
			{target: "deployment/web", chosen: "web-", container: "app", pods: 2, warning: "has 2 pods"},
			{target: "pod/multi", chosen: "multi", container: "second", pods: 1},
			{target: "pod/multi/container/first", chosen: "multi", container: "first", pods: 1},
			{target: "service/backend", chosen: "multi", container: "second", pods: 1},
			{target: "statefulset/db", chosen: "db-0", container: "postgres", pods: 1},
			{target: "pod/stuck", pods: 1, problem: "none of its 1 pod(s) can be targeted"},
			{target: "rollout/canary", problem: "no pods match selector app=canary"},
			{target: "label/tier=be", chosen: "multi", container: "second", pods: 1},
		}
		for _, tt := range tests {
			tp, err := targetpath.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			d, err := cat.Describe(ctx, Query{Namespace: ns}, tp)
			if err != nil {
				t.Errorf("%s: %v", tt.target, err)
				continue
			}
			if !strings.HasPrefix(d.Chosen, tt.chosen) || (tt.chosen == "") != (d.Chosen == "") ||
				d.ChosenContainer != tt.container || len(d.Pods) != tt.pods || !strings.Contains(d.Problem, tt.problem) ||
				(tt.warning != "" && !slices.ContainsFunc(d.Warnings, func(w string) bool { return strings.Contains(w, tt.warning) })) {
				t.Errorf("%s: got %+v", tt.target, d)
			}
		}
		_, err := cat.Describe(ctx, Query{Namespace: ns}, targetpath.Target{Kind: targetpath.Deployment, Name: "wbe"})
		if err == nil || !strings.Contains(err.Error(), "(did you mean web?)") {
			t.Errorf("deployment/wbe: error %v, want a did-you-mean", err)
		}
	})

	t.Run("no Rollout CRD", func(t *testing.T) {
		absent := New(Options{LookupEnv: env(c),
			Rollouts: schema.GroupVersionResource{Group: "rollouts.absent.mirrord.test", Version: "v1", Resource: "rollouts"}})
		defer absent.Close()
		got, err := absent.ListTargets(ctx, Query{Namespace: ns, Kinds: []targetpath.Kind{targetpath.Rollout}})
		if err != nil || len(got.Targets) != 0 || len(got.Warnings) != 0 {
			t.Fatalf("got %+v, %v; want nothing, no warning, no error", got, err)
		}
	})

	t.Run("unknown context", func(t *testing.T) {
		_, err := cat.ListTargets(ctx, Query{Context: "mirrord-locl"})
		if err == nil || !strings.Contains(err.Error(), "did you mean mirrord-local?") {
			t.Fatalf("error %v, want a did-you-mean", err)
		}
	})

	t.Run("limited user", func(t *testing.T) {
		// pods: list+watch (informer); deployments: list only (LIST
		// fallback); services and the rest: nothing; namespaces: nothing.
		c.GrantLimited(t, ns,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list"}})
		q := Query{Context: limitedContext, Namespace: ns,
			Kinds: []targetpath.Kind{targetpath.Pod, targetpath.Deployment, targetpath.Service}}
		var got listing.Listing
		kubetest.Eventually(t, kubetest.WaitTimeout, "limited listing", func(ctx context.Context) (bool, error) {
			// A fresh catalog each time: RBAC may take a moment to apply.
			lc := New(Options{LookupEnv: env(c)})
			defer lc.Close()
			var err error
			got, err = lc.ListTargets(ctx, q)
			return err == nil && len(got.Targets) > 0 && slices.Contains(paths(got.Targets), "deployment/web"), err
		})
		if p, w := paths(got.Targets), expected(want.Available, q.Kinds[:2]); !slices.Equal(p, w) {
			t.Errorf("targets %q\n   want %q", p, w)
		}
		if !slices.Equal(got.Namespaces, []string{ns}) {
			t.Errorf("namespaces %q, want only %s", got.Namespaces, ns)
		}
		// Deployments may be listed but not watched: after the informer's
		// watch is refused, the source serves LISTs instead.
		lc := New(Options{LookupEnv: env(c)})
		defer lc.Close()
		kubetest.Eventually(t, kubetest.WaitTimeout, "deployments served by LIST", func(ctx context.Context) (bool, error) {
			got, err := lc.ListTargets(ctx, q)
			if err != nil || !slices.Contains(paths(got.Targets), "deployment/web") {
				return false, err
			}
			return lc.sourceMode(q, targetpath.Deployment) == modeList, nil
		})
		if m := lc.sourceMode(q, targetpath.Pod); m != modeWatch {
			t.Errorf("pods: mode %v, want watch", m)
		}
		wantWarnings := []string{
			`not allowed to list namespaces; showing only the current namespace "` + ns + `"`,
			`not allowed to list services in namespace "` + ns + `"`,
		}
		if !slices.Equal(got.Warnings, wantWarnings) {
			t.Errorf("warnings %q\n    want %q", got.Warnings, wantWarnings)
		}
	})
}

// sourceMode reports how a query's kind is served.
func (c *Catalog) sourceMode(q Query, k targetpath.Kind) mode {
	cl, err := c.cluster(q)
	if err != nil {
		return -1
	}
	nc := cl.namespace(q.Namespace)
	nc.mu.Lock()
	s := nc.sources[k]
	nc.mu.Unlock()
	if s == nil {
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

func TestIdleNamespacesReleased(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := New(Options{LookupEnv: env(c), IdleTimeout: 200 * time.Millisecond})
	defer cat.Close()
	if _, err := cat.ListTargets(ctx, Query{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	if n := cat.cachedNamespaces(); n != 1 {
		t.Fatalf("%d namespaces cached after a listing, want 1", n)
	}
	kubetest.Eventually(t, 10*time.Second, "idle namespace released", func(context.Context) (bool, error) {
		return cat.cachedNamespaces() == 0, nil
	})
	// A released namespace starts again on the next query.
	c.CreatePod(t, ns, kubetest.Pod("after", nil, nil, "app"))
	got, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: []targetpath.Kind{targetpath.Pod}})
	if err != nil || !slices.Equal(paths(got.Targets), []string{"pod/after"}) {
		t.Fatalf("after release: %v %v", paths(got.Targets), err)
	}
}

func TestClosed(t *testing.T) {
	cat := New(Options{})
	cat.Close()
	cat.Close()
	if _, err := cat.ListTargets(context.Background(), Query{}); err != ErrClosed {
		t.Fatalf("error %v, want ErrClosed", err)
	}
}

// TestUnreachableCluster: a cluster that refuses connections gives one
// error naming the cause once the caller's deadline passes.
func TestUnreachableCluster(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	text := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n" +
		"users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
	if err := os.WriteFile(kc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := New(Options{})
	defer cat.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	_, err := cat.ListTargets(ctx, Query{Kubeconfig: kc, Kinds: []targetpath.Kind{targetpath.Pod}})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v, want one naming the refused connection", err)
	}
}
