package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

func runCLI(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestSessionLsAndStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("/tmp", "msess")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Setenv(registry.EnvDir, dir)

	out, _, err := runCLI(t, ctx, "session", "ls")
	if err != nil || !strings.Contains(out, "No local mirrord sessions") {
		t.Fatalf("empty ls: %q %v", out, err)
	}

	hosts := map[string]*registry.Host{}
	for i, id := range []string{"aaa", "bbb"} {
		h, err := registry.Listen(ctx, dir, registry.Info{ID: id, Target: "pod/p" + id, Namespace: "ns", StartedAt: time.Now().Add(time.Duration(-i) * time.Minute),
			Processes: []registry.Process{{PID: 10 + i, Name: "python3"}}, PortSubscriptions: []registry.PortSubscription{{Port: 80, Mode: "steal"}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hosts[id] = h
	}

	out, _, err = runCLI(t, ctx, "session", "ls")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SESSION ID") || !strings.HasPrefix(lines[1], "bbb") ||
		!strings.Contains(lines[2], "pod/paaa") || !strings.Contains(lines[2], "python3(10)") || !strings.Contains(lines[2], "80/steal") {
		t.Fatalf("table:\n%s", out)
	}

	out, _, err = runCLI(t, ctx, "session", "ls", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var infos []registry.Info
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != 2 || infos[0].ID != "bbb" {
		t.Fatalf("json: %s %v", out, err)
	}

	if _, _, err := runCLI(t, ctx, "session", "stop", "aaa"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hosts["aaa"].Killed():
	case <-ctx.Done():
		t.Fatal("aaa not stopped")
	}
	select {
	case <-hosts["bbb"].Killed():
		t.Fatal("bbb stopped too")
	default:
	}
	if _, _, err := runCLI(t, ctx, "session", "stop", "nope"); err == nil {
		t.Fatal("stopping an unknown session must fail")
	}
	if _, _, err := runCLI(t, ctx, "session", "stop", "--all"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hosts["bbb"].Killed():
	case <-ctx.Done():
		t.Fatal("bbb not stopped by --all")
	}
	if _, _, err := runCLI(t, ctx, "session", "ls", "-o", "yaml"); err == nil {
		t.Fatal("unknown output accepted")
	}
}
