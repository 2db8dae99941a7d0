package agenttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// envRole selects a helper role when the test binary is re-executed.
const envRole = "MIRRORD_AGENTTEST_ROLE"

var (
	buildOnce sync.Once
	buildDir  string
	agentBin  string
	buildErr  error
)

// IsRole reports whether this process was started to play a helper role
// (TestMain must then call Main before anything else).
func IsRole() bool { return os.Getenv(envRole) != "" }

// Main runs the tests, or a helper role when the binary was started as one.
func Main(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		os.Exit(runRole(role))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// AgentBinary returns the path of a mirrord-agent binary: $MIRRORD_AGENT_BIN
// when set, otherwise one built once per test process.
func AgentBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MIRRORD_AGENT_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "agenttest-bin-")
		if buildErr != nil {
			return
		}
		agentBin = filepath.Join(buildDir, "mirrord-agent")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", agentBin, "github.com/mirrord-ls/mirrord-ls/cmd/mirrord-agent")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build mirrord-agent: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return agentBin
}

// RequireRoot skips the test unless it runs as root with ip and iptables.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and iptables rules (CI runs tests as root)")
	}
	for _, bin := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
}
