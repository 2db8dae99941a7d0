package schema

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func benchVerify(b *testing.B, name string) {
	path := filepath.Join(corpusDir, "valid", name)
	text, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{
		Path:      path,
		Env:       func(string) (string, bool) { return "", false },
		GitBranch: func() (string, bool) { return "main", true },
	}
	if res := Verify(context.Background(), text, opts); res.HasErrors() {
		b.Fatalf("%s has errors: %+v", name, res.Errors())
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		Verify(context.Background(), text, opts)
		n++
	}
	// The machine is shared: CPU time per call is the stable number when
	// wall time is inflated by other processes.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyCompleteExample verifies the complete documentation
// example (every section). Target: ≤ 1 ms per call, warm.
func BenchmarkVerifyCompleteExample(b *testing.B) { benchVerify(b, "complete.json") }

// BenchmarkVerifyTemplatedExample verifies the templated documentation
// example. Target: ≤ 3 ms per call, warm.
func BenchmarkVerifyTemplatedExample(b *testing.B) { benchVerify(b, "templated.json") }
