package catalog

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
)

// The scale benchmarks run against the real local control plane with
// kubetest.DefaultScale (10,000 pods and 1,000 deployments over 20
// namespaces) and are opt-in: MIRRORD_BENCH_SCALE=1 (`make bench-scale`).

// percentiles reports p50, p99 and max of durations as benchmark metrics.
func percentiles(b *testing.B, ds []time.Duration, unit string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*p))] }
	b.ReportMetric(float64(at(0.50).Microseconds())/1000, "p50-"+unit)
	b.ReportMetric(float64(at(0.99).Microseconds())/1000, "p99-"+unit)
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "max-"+unit)
}

// warm returns a catalog with every scale namespace listed once.
func warm(b *testing.B, c *kubetest.Cluster, namespaces []string) *Catalog {
	b.Helper()
	cat := New(Options{LookupEnv: env(c)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, ns := range namespaces {
		l, err := cat.ListTargets(ctx, Query{Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(l.Targets); n < kubetest.DefaultScale.PodsPerNamespace {
			b.Fatalf("namespace %s: %d targets, want at least %d", ns, n, kubetest.DefaultScale.PodsPerNamespace)
		}
	}
	return cat
}

// BenchmarkCatalogWarm: one warm listing (pods, deployments, rollouts) of a
// namespace with 500 pods and 50 deployments, from the cache.
func BenchmarkCatalogWarm(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	namespaces := c.EnsureScale(b, kubetest.DefaultScale)
	cat := warm(b, c, namespaces)
	defer cat.Close()
	ctx := context.Background()
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := cat.ListTargets(ctx, Query{Namespace: namespaces[i%len(namespaces)]}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	percentiles(b, ds, "ms")
}

// BenchmarkCatalogWarmAllKinds: the same with all eight listable kinds.
func BenchmarkCatalogWarmAllKinds(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	namespaces := c.EnsureScale(b, kubetest.DefaultScale)
	cat := warm(b, c, namespaces)
	defer cat.Close()
	ctx := context.Background()
	for _, ns := range namespaces {
		if _, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: listing.Kinds}); err != nil {
			b.Fatal(err)
		}
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := cat.ListTargets(ctx, Query{Namespace: namespaces[i%len(namespaces)], Kinds: listing.Kinds}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	percentiles(b, ds, "ms")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkCatalogMemory reports the heap in use (after GC) by a catalog
// holding all 20 namespaces (10,000 pods, 1,000 deployments), for the
// default kinds and for all kinds.
func BenchmarkCatalogMemory(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	namespaces := c.EnsureScale(b, kubetest.DefaultScale)
	ctx := context.Background()
	for b.Loop() {
		before := heapInUse()
		cat := warm(b, c, namespaces)
		defaultKinds := heapInUse()
		for _, ns := range namespaces {
			if _, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: listing.Kinds}); err != nil {
				b.Fatal(err)
			}
		}
		allKinds := heapInUse()
		b.ReportMetric(float64(defaultKinds-before)/(1<<20), "MB-cache-default-kinds")
		b.ReportMetric(float64(allKinds-before)/(1<<20), "MB-cache-all-kinds")
		b.ReportMetric(float64(allKinds)/(1<<20), "MB-heap-process")
		runtime.KeepAlive(cat)
		cat.Close()
	}
}

// BenchmarkPodReadyToVisible measures the time from a pod turning Ready in
// the API server (seen by a separate watch) to its path appearing in the
// catalog's listing, on a warm cache of the scale fixture.
func BenchmarkPodReadyToVisible(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	namespaces := c.EnsureScale(b, kubetest.DefaultScale)
	cat := warm(b, c, namespaces)
	defer cat.Close()
	ns := namespaces[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := c.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=latency"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	type readyEvent struct {
		name string
		at   time.Time
	}
	readyCh := make(chan readyEvent, 16)
	go func() {
		seen := map[string]bool{}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || !listing.PodAvailable(p) || seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			readyCh <- readyEvent{p.Name, time.Now()}
		}
	}()
	var ds []time.Duration
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("latency-%d-%d", time.Now().UnixNano(), i)
		pod := kubetest.Pod(name, map[string]string{"bench": "latency"}, nil, "app")
		pod.Spec.NodeName = "kwok-node-0"
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var visible time.Time
		deadline := time.Now().Add(30 * time.Second)
		for visible.IsZero() {
			l, err := cat.ListTargets(ctx, Query{Namespace: ns, Kinds: []targetpath.Kind{targetpath.Pod}})
			if err != nil {
				b.Fatal(err)
			}
			switch {
			case slices.ContainsFunc(l.Targets, func(t listing.Target) bool { return t.Name == name }):
				visible = time.Now()
			case time.Now().After(deadline):
				b.Fatalf("pod %s not visible after 30s", name)
			default:
				time.Sleep(time.Millisecond) // poll resolution: 1 ms
			}
		}
		var ready time.Time
		for ready.IsZero() {
			select {
			case ev := <-readyCh:
				if ev.name == name {
					ready = ev.at
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("no Ready event for pod %s", name)
			}
		}
		ds = append(ds, max(visible.Sub(ready), 0))
		_ = c.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	}
	percentiles(b, ds, "ms")
}

// BenchmarkLsCold runs `mirrord ls -n <namespace>` as a new process (cold:
// kubeconfig, clients, one paginated LIST per kind) against a namespace of
// the scale fixture, plain and rich output.
func BenchmarkLsCold(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	namespaces := c.EnsureScale(b, kubetest.DefaultScale)
	bin := mirrordBinary(b, c.Root)
	for _, rich := range []bool{false, true} {
		b.Run(fmt.Sprintf("rich=%v", rich), func(b *testing.B) {
			var ds []time.Duration
			for i := range b.N {
				cmd := exec.Command(bin, "ls", "-n", namespaces[i%len(namespaces)])
				cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, fmt.Sprintf("MIRRORD_LS_RICH_OUTPUT=%v", rich))
				start := time.Now()
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("mirrord ls: %v", err)
				}
				ds = append(ds, time.Since(start))
				if len(out) < 1000 {
					b.Fatalf("output too short: %s", out)
				}
			}
			percentiles(b, ds, "ms")
		})
	}
}

// mirrordBinary builds cmd/mirrord into a temporary directory.
func mirrordBinary(b *testing.B, root string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "mirrord")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/mirrord")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build mirrord: %v\n%s", err, msg)
	}
	return out
}
