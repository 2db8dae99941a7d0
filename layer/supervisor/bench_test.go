package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// localOnly keeps loopback connections and listeners local: connect is
// notified (or hooked) but decided without the intproxy.
var localOnly = map[string]any{"feature": map[string]any{"network": map[string]any{
	"outgoing": map[string]any{"ignore_localhost": true},
	"incoming": map[string]any{"ignore_localhost": true},
}}}

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

// BenchmarkNotifiedLocal: open+close of a local file (/usr/include, a
// default-local path) and socket+connect+close to a loopback listener
// (ignore_localhost), natively, under the C layer and under the
// supervisor, in one run, wall clock (the supervisor's work happens in
// another process, so the caller's CPU time would hide it). The C
// program is layer/e2e's hookbench; the Go program does the same with
// os.Open and net.Dial.
func BenchmarkNotifiedLocal(b *testing.B) {
	p := newPod(b)
	bench := filepath.Join(b.TempDir(), "hookbench")
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-o", bench, "../e2e/testdata/hookbench.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v: %s", err, out)
	}
	const nOpen, nConn = "100000", "10000"
	// the fastest of the b.N runs of each: the machine is shared
	native, layer, sv := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for i := 0; i < b.N; i++ {
		out, err := exec.Command(bench, nOpen, nConn, "wall").Output()
		if err != nil {
			b.Fatal(err)
		}
		keepMin(native, metrics(b, string(out)))
		o, _ := p.runEnv(localOnly, []string{"MIRRORD_LAYER_MODE=preload"}, bench, nOpen, nConn, "wall")
		keepMin(layer, metrics(b, o))
		o, _ = p.runEnv(localOnly, []string{"MIRRORD_LAYER_MODE=supervisor"}, bench, nOpen, nConn, "wall")
		keepMin(sv, metrics(b, o))
	}
	for _, k := range []string{"open", "connect"} {
		b.ReportMetric(native[k+"_ns"], "native-"+k+"-ns")
		b.ReportMetric(layer[k+"_ns"], "clayer-"+k+"-ns")
		b.ReportMetric(sv[k+"_ns"], "supervisor-"+k+"-ns")
		b.ReportMetric(sv[k+"_ns"]-native[k+"_ns"], "supervisor-extra-"+k+"-ns")
	}
}

// BenchmarkSupervisedOpen: the supervisor alone (a fake intproxy, no
// agent): a Go program's open+close of a default-local path, natively and
// notified; and getppid, which the filter lets through. Beside it, the
// kernel's floor on this machine: testdata/notifyfloor, a C supervisor
// that does nothing but receive, read the path and continue.
func BenchmarkSupervisedOpen(b *testing.B) {
	f := newFakeIntproxy(b)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	floorBin := filepath.Join(b.TempDir(), "notifyfloor")
	if out, err := exec.Command("gcc", "-O2", "-o", floorBin, "testdata/notifyfloor/notifyfloor.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v: %s", err, out)
	}
	native, sv, floor := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for i := 0; i < b.N; i++ {
		out, err := exec.Command(floorBin, "20000").Output()
		if err != nil {
			b.Fatalf("notifyfloor: %v", err)
		}
		keepMin(floor, metrics(b, string(out)))
		cmd := exec.Command(self, "openbench=20000")
		cmd.Env = append(os.Environ(), envProbe+"=1")
		out, err = cmd.Output()
		if err != nil {
			b.Fatal(err)
		}
		keepMin(native, metrics(b, string(out)))
		o, _ := supervised(b, f, Config{}, "openbench=20000")
		keepMin(sv, metrics(b, o))
	}
	b.ReportMetric(native["open_ns"], "native-open-ns")
	b.ReportMetric(sv["open_ns"], "supervisor-open-ns")
	b.ReportMetric(sv["open_ns"]-native["open_ns"], "extra-open-ns")
	b.ReportMetric(floor["open_ns"]-floor["native_ns"], "kernel-floor-extra-open-ns")
	b.ReportMetric(native["getppid_ns"], "native-unnotified-ns")
	b.ReportMetric(sv["getppid_ns"], "supervisor-unnotified-ns")
}

// keepMin keeps in m the smallest value of each metric.
func keepMin(m, run map[string]float64) {
	for k, v := range run {
		if old, ok := m[k]; !ok || v < old {
			m[k] = v
		}
	}
}

// BenchmarkGoHTTPClient: requests per second (a new connection each) of
// an HTTP client through a real agent to a server only the target
// reaches, in one run: a static Go client under the supervisor, the same
// program dynamically linked (mirrord exec's auto mode: the supervisor),
// the dynamic one under the C layer alone (layer_mode preload; Go's
// connect bypasses libc, so only the name goes through mirrord and the
// connection goes straight to the pod's address), and a Python client
// under the C layer (the C layer's own path through the agent). Beside
// them: the static client straight to the pod's address, no mirrord.
func BenchmarkGoHTTPClient(b *testing.B) {
	p := newPod(b)
	static, dynamic := buildGoProbe(b, true), buildGoProbe(b, false)
	const n = "300"
	url := "http://orders.internal/rps"
	direct := "http://" + agenttest.PodIP.String() + "/rps"
	py := `import time, urllib.request as u
n = ` + n + `
t = time.time()
for _ in range(n):
    u.urlopen("` + url + `", timeout=20).read()
print("rps %.1f" % (n / (time.time() - t)))`
	best := map[string]float64{}
	keep := func(name, out string) {
		m := metrics(b, out)
		if v, ok := m["rps"]; ok && v > best[name] {
			best[name] = v
		} else if !ok {
			b.Logf("%s: no rps in %q", name, out)
		}
	}
	for i := 0; i < b.N; i++ {
		o, _ := p.run(nil, static, "rps="+n+","+url)
		keep("supervisor-static-go", o)
		o, _ = p.run(nil, dynamic, "rps="+n+","+url)
		keep("supervisor-dynamic-go", o)
		o, _ = p.runEnv(nil, []string{"MIRRORD_LAYER_MODE=preload", "GODEBUG=netdns=cgo"}, dynamic, "rps="+n+","+url)
		keep("clayer-dynamic-go-direct", o)
		o, _ = p.runEnv(nil, []string{"MIRRORD_LAYER_MODE=preload"}, "python3", "-c", py)
		keep("clayer-python", o)
		out, err := exec.Command(static, "rps="+n+","+direct).Output()
		if err != nil {
			b.Fatal(err)
		}
		keep("native-static-go-direct", string(out))
	}
	for k, v := range best {
		b.ReportMetric(v, k+"-req/s")
	}
}
