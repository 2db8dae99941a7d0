package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// TestResolverEntryPoints: gethostbyname2 (getent hosts), gethostbyname_r,
// gethostbyname2_r and getnameinfo see the target's names.
func TestResolverEntryPoints(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{Files: ordersHosts()})
	ip := agenttest.PodIP.String()
	// getent hosts asks gethostbyname2(AF_INET6), then AF_INET
	out := s.mustRun(nil, "getent", "hosts", "orders.internal")
	if f := strings.Fields(out); len(f) != 2 || f[0] != ip || f[1] != "orders.internal" {
		t.Fatalf("getent hosts: %q", out)
	}
	prog := filepath.Join(t.TempDir(), "resolve")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-o", prog, "testdata/resolve.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	out = s.mustRun(nil, prog, "orders.internal")
	want := strings.Join([]string{
		"gethostbyname_r orders.internal " + ip,
		"gethostbyname2_r orders.internal " + ip,
		"small buffer ERANGE",
		"gethostbyname2 orders.internal " + ip,
		"getnameinfo 0 orders.internal 80",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("resolve:\n%s\nwant:\n%s", out, want)
	}
	// python: gethostbyname_ex is gethostbyname_r, getnameinfo after a lookup
	out = s.mustRun(nil, "python3", "-c", `
import socket
print(socket.gethostbyname_ex("orders.internal"))
print(socket.getnameinfo(("`+ip+`", 80), socket.NI_NUMERICSERV))
`)
	if want := "('orders.internal', [], ['" + ip + "'])\n('orders.internal', '80')\n"; out != want {
		t.Fatalf("python: %q, want %q", out, want)
	}
}
