package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
