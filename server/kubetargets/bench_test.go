package kubetargets

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/server"
)

// percentiles reports p50, p99 and max of durations as benchmark metrics.
func percentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*p))] }
	b.ReportMetric(float64(at(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(at(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "max-ms")
}

// benchListTargets times warm mirrord/listTargets calls through the server
// over a pipe, cycling through namespaces.
func benchListTargets(b *testing.B, c *kubetest.Cluster, namespaces []string) {
	cl := startServer(b, c.Kubeconfig, Options{})
	for _, ns := range namespaces { // warm every namespace once
		var l targets.TargetList
		cl.call("mirrord/listTargets", server.ListTargetsParams{Namespace: ns}, &l)
		if len(l.Targets) == 0 {
			b.Fatalf("namespace %s: no targets", ns)
		}
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		cl.call("mirrord/listTargets", server.ListTargetsParams{Namespace: namespaces[i%len(namespaces)]}, nil)
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	percentiles(b, ds)
}

// BenchmarkListTargetsWarm: warm listTargets (pods, deployments, rollouts)
// of the PopulateTargets namespace, through the server over a pipe.
func BenchmarkListTargetsWarm(b *testing.B) {
	c := kubetest.Start(b)
	ns := c.Namespace(b)
	c.PopulateTargets(b, ns)
	benchListTargets(b, c, []string{ns})
}

// BenchmarkListTargetsWarmScale: the same over the scale fixture (20
// namespaces of 500 pods and 50 deployments); MIRRORD_BENCH_SCALE=1.
func BenchmarkListTargetsWarmScale(b *testing.B) {
	kubetest.RequireScale(b)
	c := kubetest.Start(b)
	benchListTargets(b, c, c.EnsureScale(b, kubetest.DefaultScale))
}

// BenchmarkCompletionTargetNames: completing `deployment/` names with a
// warm cache, through the server over a pipe.
func BenchmarkCompletionTargetNames(b *testing.B) {
	c := kubetest.Start(b)
	ns := c.Namespace(b)
	c.PopulateTargets(b, ns)
	cl := startServer(b, c.Kubeconfig, Options{})
	text, pos := marked(b, `{"target": {"namespace": "`+ns+`", "path": "deployment/|"}}`)
	uri := cl.open("mirrord.json", text)
	params := protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: pos}}
	kubetest.Eventually(b, kubetest.WaitTimeout, "a complete list", func(context.Context) (bool, error) {
		var l protocol.CompletionList
		cl.call(protocol.MethodTextDocumentCompletion, params, &l)
		return !l.IsIncomplete && len(l.Items) > 0, nil
	})
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		cl.call(protocol.MethodTextDocumentCompletion, params, nil)
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	percentiles(b, ds)
}
