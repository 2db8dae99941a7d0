package kubetargets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// TestHelperRestart kills the cluster helper mid-session: the next
// request starts a new one and answers; closing the client stops it.
func TestHelperRestart(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	c.PopulateTargets(t, ns)
	cl := startServer(t, c.Kubeconfig, Options{})
	if pid := cl.cluster.helperPID(); pid != 0 {
		t.Fatalf("the helper runs (pid %d) before any cluster question", pid)
	}
	list := func() (targets.TargetList, error) {
		var l targets.TargetList
		err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{Namespace: ns}, &l)
		return l, err
	}
	if l, err := list(); err != nil || len(l.Targets) == 0 {
		t.Fatalf("listTargets = %+v, %v", l, err)
	}
	first := cl.cluster.helperPID()
	if first == 0 {
		t.Fatal("no helper after a cluster question")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The first request after the kill may meet the dead helper (and
	// says so); the one after it runs on a new helper.
	l, err := list()
	if err != nil {
		if !strings.Contains(err.Error(), "cluster helper exited: signal: killed") {
			t.Fatalf("listTargets after the kill: %v", err)
		}
		l, err = list()
	}
	if err != nil || len(l.Targets) == 0 {
		t.Fatalf("listTargets on the restarted helper = %+v, %v", l, err)
	}
	second := cl.cluster.helperPID()
	if second == 0 || second == first {
		t.Fatalf("helper pid %d after the restart (was %d)", second, first)
	}
	if err := cl.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(second, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the helper (pid %d) outlived Close: kill 0 = %v", second, err)
	}
	if _, err := list(); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("listTargets after Close: %v", err)
	}
}

// TestHelperMissing: without a mirrord CLI, cluster requests fail with a
// clear error and completion is incomplete rather than failing.
func TestHelperMissing(t *testing.T) {
	kubeconfig, _ := deadKubeconfig(t, false)
	cl := startServer(t, kubeconfig, Options{Mirrord: "/nonexistent/mirrord"})
	err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{}, nil)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/mirrord") {
		t.Errorf("listTargets without the CLI: %v", err)
	}
	text, pos := marked(t, `{"target": "deployment/|"}`)
	uri := cl.open("mirrord.json", text)
	var l protocol.CompletionList
	cl.call(protocol.MethodTextDocumentCompletion, protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: pos}}, &l)
	if !l.IsIncomplete {
		t.Errorf("completion without the helper is not incomplete: %+v", l)
	}
}

// crashingMirrord writes a stand-in for the mirrord CLI whose
// cluster-serve fails at once (a real helper cannot be made to).
func crashingMirrord(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirrord")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho 'cluster-serve: boom' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHelperCrashLoop: a helper that keeps exiting is restarted at once
// the first time, then only after the restart delay; each failure says
// how it exited, and completion stays incomplete rather than failing.
func TestHelperCrashLoop(t *testing.T) {
	c := New(Options{Mirrord: crashingMirrord(t), RestartDelay: time.Hour})
	t.Cleanup(func() { c.Close() })
	const exited = "cluster helper exited: exit status 3: cluster-serve: boom"
	for i, want := range []string{exited, exited, exited + "; restarting in "} {
		_, err := c.ListTargets(t.Context(), targets.TargetQuery{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("request %d: %v, want %q…", i+1, err, want)
		}
	}
	a, err := c.CompleteCluster(t.Context(), targets.ClusterQuery{Field: targets.FieldNamespace})
	if err != nil || !a.Incomplete || len(a.Values) != 0 {
		t.Errorf("completion = %+v, %v; want an empty incomplete answer", a, err)
	}
}

// TestHelperExitedDiagnostic: a config's target gets one diagnostic that
// says the helper exited.
func TestHelperExitedDiagnostic(t *testing.T) {
	kubeconfig, _ := deadKubeconfig(t, false)
	cl := startServer(t, kubeconfig, Options{Mirrord: crashingMirrord(t), RestartDelay: time.Hour})
	uri := cl.open("mirrord.json", `{"target": "deployment/api"}`)
	got, _ := cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) > 0 })
	if len(got.Diagnostics) != 1 || got.Diagnostics[0].Code != "TARGET-NOT-CHECKED" ||
		!strings.HasPrefix(got.Diagnostics[0].Message, "cluster helper exited: exit status 3: cluster-serve: boom") {
		t.Errorf("diagnostics = %+v", got.Diagnostics)
	}
}

func TestRestartDelay(t *testing.T) {
	for _, tc := range []struct {
		first    time.Duration
		failures int
		want     time.Duration
	}{
		{250 * time.Millisecond, 0, 0},
		{250 * time.Millisecond, 1, 0},
		{250 * time.Millisecond, 2, 250 * time.Millisecond},
		{250 * time.Millisecond, 3, 500 * time.Millisecond},
		{250 * time.Millisecond, 6, 4 * time.Second},
		{250 * time.Millisecond, 7, 8 * time.Second},
		{250 * time.Millisecond, 8, 10 * time.Second},
		{250 * time.Millisecond, 1000, 10 * time.Second},
		{time.Hour, 2, time.Hour},
		{time.Hour, 50, time.Hour},
	} {
		if got := restartDelay(tc.first, tc.failures); got != tc.want {
			t.Errorf("restartDelay(%v, %d) = %v, want %v", tc.first, tc.failures, got, tc.want)
		}
	}
}
