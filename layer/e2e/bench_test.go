package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// metrics parses "name value" lines.
func metrics(tb testing.TB, out string) map[string]float64 {
	tb.Helper()
	m := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			tb.Fatalf("bad metric line %q", line)
		}
		m[f[0]] = v
	}
	return m
}

func runNative(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

// localOnly keeps loopback traffic and listeners local, so the hooks run but
// decide without asking the intproxy.
var localOnly = map[string]any{"feature": map[string]any{"network": map[string]any{
	"outgoing": map[string]any{"ignore_localhost": true},
	"incoming": map[string]any{"ignore_localhost": true},
}}}

// BenchmarkHookOverhead: the extra cost of a hooked but locally decided
// open() and connect(), from a C program run with and without the layer.
func BenchmarkHookOverhead(b *testing.B) {
	s := newSession(b, agenttest.PodOptions{})
	bench := filepath.Join(b.TempDir(), "hookbench")
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-o", bench, "testdata/hookbench.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v: %s", err, out)
	}
	const nOpen, nConn = "300000", "20000"
	var native, layer map[string]float64
	for i := 0; i < b.N; i++ {
		native = metrics(b, runNative(b, bench, nOpen, nConn))
		layer = metrics(b, s.mustRun(localOnly, bench, nOpen, nConn))
	}
	b.ReportMetric(native["open_ns"], "native-open-ns")
	b.ReportMetric(layer["open_ns"], "layer-open-ns")
	b.ReportMetric(layer["open_ns"]-native["open_ns"], "extra-open-ns")
	b.ReportMetric(native["connect_ns"], "native-connect-ns")
	b.ReportMetric(layer["connect_ns"], "layer-connect-ns")
	b.ReportMetric(layer["connect_ns"]-native["connect_ns"], "extra-connect-ns")
}

// BenchmarkIntproxyRoundTrip: an open() the layer cannot decide alone (a
// user fs pattern exists, so every absolute path is asked) that the
// intproxy answers "local": one control-socket round trip, wall clock.
func BenchmarkIntproxyRoundTrip(b *testing.B) {
	s := newSession(b, agenttest.PodOptions{})
	bench := filepath.Join(b.TempDir(), "hookbench")
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-o", bench, "testdata/hookbench.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v: %s", err, out)
	}
	cfg := map[string]any{"feature": map[string]any{"fs": map[string]any{"local": []string{"^/never-matches/"}}}}
	var native, layer float64
	for i := 0; i < b.N; i++ {
		native += metrics(b, runNative(b, bench, "20000", "0", "wall"))["open_ns"]
		layer += metrics(b, s.mustRun(cfg, bench, "20000", "0", "wall"))["open_ns"]
	}
	b.ReportMetric(native/float64(b.N), "native-open-ns")
	b.ReportMetric(layer/float64(b.N), "asked-open-ns")
	b.ReportMetric((layer-native)/float64(b.N), "round-trip-ns")
}

// BenchmarkPythonOpen10kFiles: a python script opening 10,000 local files,
// with the layer against without.
func BenchmarkPythonOpen10kFiles(b *testing.B) {
	s := newSession(b, agenttest.PodOptions{})
	dir := b.TempDir()
	script, err := filepath.Abs("testdata/openfiles.py")
	if err != nil {
		b.Fatal(err)
	}
	runNative(b, "python3", script, dir, "10000") // create the files
	var native, layer float64
	for i := 0; i < b.N; i++ {
		native += metrics(b, runNative(b, "python3", script, dir, "10000"))["seconds"]
		layer += metrics(b, s.mustRun(nil, "python3", script, dir, "10000"))["seconds"]
	}
	b.ReportMetric(native/float64(b.N)*1000, "native-ms")
	b.ReportMetric(layer/float64(b.N)*1000, "layer-ms")
	b.ReportMetric(layer/native, "layer/native")
}

// BenchmarkOutgoingThroughput: 256 MiB through one outgoing connection to
// the target's sink, via layer+intproxy+agent and via a two-socat chain
// (host socat -> socat in the target namespace) for comparison.
func BenchmarkOutgoingThroughput(b *testing.B) {
	s := newSession(b, agenttest.PodOptions{})
	script, err := filepath.Abs("testdata/sendsink.py")
	if err != nil {
		b.Fatal(err)
	}
	const mib = "256"
	sink := strconv.Itoa(agenttest.AppSinkPort)
	b.Run("layer", func(b *testing.B) {
		var rate float64
		for i := 0; i < b.N; i++ {
			rate += metrics(b, s.mustRun(nil, "python3", script, agenttest.PodIP.String(), sink, mib))["mib_per_s"]
		}
		b.ReportMetric(rate/float64(b.N), "MiB/s")
	})
	b.Run("socat", func(b *testing.B) {
		port := freePort(b)
		ctx, cancel := context.WithCancel(context.Background())
		relay := exec.CommandContext(ctx, "socat",
			fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", port),
			fmt.Sprintf("EXEC:ip netns exec %s socat STDIO TCP\\:%s\\:%s", s.pod.Target, agenttest.PodIP, sink))
		if err := relay.Start(); err != nil {
			cancel()
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cancel()
			_ = relay.Wait()
		})
		waitFor(b, 10*time.Second, "socat to listen", func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		var rate float64
		for i := 0; i < b.N; i++ {
			rate += metrics(b, runNative(b, "python3", script, "127.0.0.1", strconv.Itoa(port), mib))["mib_per_s"]
		}
		b.ReportMetric(rate/float64(b.N), "MiB/s")
	})
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
