// Package testbin gives tests the project's binaries: mirrord,
// mirrord-agent, mirrord-ls and libmirrord_layer.so, side by side in one
// directory (where `mirrord exec` and `mirrord ext` find the layer).
//
// `make test` builds them into bin/ first and points MIRRORD_TEST_BIN at
// that directory, so no test package builds them again. A plain `go test`
// builds them once per test process into a temporary directory that Run
// removes at the end.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// EnvDir names a directory that already holds every binary.
const EnvDir = "MIRRORD_TEST_BIN"

// built is the once-per-process build; tests only read it after once.Do.
var built struct {
	once sync.Once
	dir  string
	temp bool
	err  error
}

// repoRoot is the module root (two levels above this file).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Dir returns the directory holding the binaries, building them on first
// use when MIRRORD_TEST_BIN is not set. It also points agenttest at the
// agent (MIRRORD_AGENT_BIN) unless that is set already.
func Dir(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if d := os.Getenv(EnvDir); d != "" {
			built.dir = d
			built.err = check(d)
		} else {
			built.dir, built.err = build()
			built.temp = built.err == nil
		}
		if built.err == nil && os.Getenv("MIRRORD_AGENT_BIN") == "" {
			built.err = os.Setenv("MIRRORD_AGENT_BIN", filepath.Join(built.dir, "mirrord-agent"))
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// Mirrord is the path of the mirrord CLI.
func Mirrord(t testing.TB) string { return filepath.Join(Dir(t), "mirrord") }

// Agent is the path of mirrord-agent.
func Agent(t testing.TB) string { return filepath.Join(Dir(t), "mirrord-agent") }

// LS is the path of mirrord-ls.
func LS(t testing.TB) string { return filepath.Join(Dir(t), "mirrord-ls") }

// Layer is the path of libmirrord_layer.so.
func Layer(t testing.TB) string { return filepath.Join(Dir(t), "libmirrord_layer.so") }

var names = []string{"mirrord", "mirrord-agent", "mirrord-ls", "libmirrord_layer.so"}

func check(dir string) error {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("%s=%s: %w (run `make build`)", EnvDir, dir, err)
		}
	}
	return nil
}

func build() (string, error) {
	dir, err := os.MkdirTemp("", "mirrord-testbin-")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, c := range [][]string{
		{"go", "build", "-o", filepath.Join(dir, "mirrord"), "./cmd/mirrord"},
		{"go", "build", "-o", filepath.Join(dir, "mirrord-agent"), "./cmd/mirrord-agent"},
		{"go", "build", "-o", filepath.Join(dir, "mirrord-ls"), "./cmd/mirrord-ls"},
		{"make", "-s", "BIN=" + dir, filepath.Join(dir, "libmirrord_layer.so")},
	} {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return dir, nil
}

// Run is the body of a TestMain: it plays an agenttest role when the test
// binary was re-executed as one (see agenttest.Main), otherwise runs the
// tests through run (m.Run, or kubetest.Run wrapping it) and removes the
// binaries it built. Use: func TestMain(m *testing.M) { os.Exit(testbin.Run(m, m.Run)) }.
func Run(m *testing.M, run func() int) int {
	if agenttest.IsRole() {
		agenttest.Main(m) // plays its role and exits
	}
	code := run()
	if built.temp {
		os.RemoveAll(built.dir)
	}
	return code
}
