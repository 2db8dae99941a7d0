package realnode

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

// launch is the launch environment both `mirrord ext` and startSession
// return.
type launch struct {
	SessionID   string            `json:"session_id"`
	Environment map[string]string `json:"environment"`
	EnvToUnset  []string          `json:"env_to_unset"`
}

// runWithLaunch runs the probe script with the launch environment laid over
// this process's, as an editor launches its debuggee.
func runWithLaunch(t testing.TB, l launch, ns string) string {
	t.Helper()
	return runCmdWithLaunch(t, l, "sh", "-c", probeScript(ns))
}

// runCmdWithLaunch runs a command as an editor runs its debuggee: with
// the launch's environment laid over this one.
func runCmdWithLaunch(t testing.TB, l launch, name string, args ...string) string {
	t.Helper()
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, u := range l.EnvToUnset {
			drop = drop || strings.EqualFold(u, k)
		}
		if _, over := l.Environment[k]; !drop && !over {
			env = append(env, kv)
		}
	}
	for k, v := range l.Environment {
		env = append(env, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("debuggee: %v\n%s", err, out)
	}
	return string(out)
}

func sessionsDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "mrn") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// stopSession stops a session through `mirrord session stop`.
func (f *fixture) stopSession(t testing.TB, sessions, id string) {
	t.Helper()
	out, err := run(t, time.Minute, []string{"MIRRORD_SESSIONS_DIR=" + sessions}, mirrordBin(t), "session", "stop", id)
	if err != nil {
		t.Fatalf("mirrord session stop %s: %v\n%s", id, err, out)
	}
}

// TestExt: `mirrord ext` (the official CLI's editor contract) creates the
// agent on the real node; its environment runs a process in the pod's
// context; stopping the session removes the agent.
func TestExt(t *testing.T) {
	f := setup(t)
	sessions := sessionsDir(t)
	cfg := f.config(t, nil)
	env := append(f.env(), "MIRRORD_PROGRESS_MODE=json", "MIRRORD_SESSIONS_DIR="+sessions)
	out, err := run(t, 3*time.Minute, env, mirrordBin(t), "ext", "-f", cfg, "-t", "deployment/"+apiName)
	if err != nil {
		t.Fatalf("mirrord ext: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last struct {
		Type, Name, Message string
		Success             bool
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || !last.Success {
		t.Fatalf("last line of mirrord ext: %v\n%s", err, out)
	}
	var l launch
	if err := json.Unmarshal([]byte(last.Message), &l); err != nil {
		t.Fatalf("MirrordExecution: %v\n%s", err, last.Message)
	}
	for _, line := range lines {
		var ev struct{ Type, Message string }
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "Info" {
			if id, ok := strings.CutPrefix(ev.Message, "session ID: "); ok {
				l.SessionID = id
			}
		}
	}
	if l.SessionID == "" {
		t.Fatalf("no session ID in:\n%s", out)
	}
	probe := runWithLaunch(t, l, f.ns)
	f.checkInPod(t, probe, apiName, f.podIP(t, "app="+apiName))
	f.checkGoProgramsWithLaunch(t, l)
	f.stopSession(t, sessions, l.SessionID)
	f.agentsGone(t, f.ns)
}

// lsClient is an editor talking to the real `mirrord-ls --stdio` process.
type lsClient struct {
	conn jsonrpc2.Conn
	mu   sync.Mutex
	prog []map[string]any
}

// TestStartSessionFromLSP: mirrord-ls's mirrord/startSession, with
// $/progress, does the same from an LSP client.
func TestStartSessionFromLSP(t *testing.T) {
	f := setup(t)
	sessions := sessionsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbin.LS(t), "--stdio")
	cmd.Env = append(os.Environ(), append(f.env(), "MIRRORD_SESSIONS_DIR="+sessions)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	c := &lsClient{conn: jsonrpc2.NewConn(wire.NewSplit(bufio.NewReader(stdout), stdin, stdin))}
	c.conn.Go(ctx, func(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
		if req.Method() == "$/progress" {
			var p struct {
				Value map[string]any `json:"value"`
			}
			_ = json.Unmarshal(req.Params(), &p)
			c.mu.Lock()
			c.prog = append(c.prog, p.Value)
			c.mu.Unlock()
		}
		if _, ok := req.(*jsonrpc2.Call); ok {
			return reply(ctx, nil, nil)
		}
		return nil
	})
	var initRes map[string]any
	if _, err := c.conn.Call(ctx, "initialize", map[string]any{
		"processId": os.Getpid(), "rootUri": nil,
		"clientInfo":   map[string]any{"name": "realnode-test", "version": "1"},
		"capabilities": map[string]any{"window": map[string]any{"workDoneProgress": true}},
	}, &initRes); err != nil {
		t.Fatalf("initialize: %v\n%s", err, stderr.String())
	}
	if err := c.conn.Notify(ctx, "initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// A config that names a kubeconfig of the workspace's own (a copy of
	// the cluster's): the session starts only once the editor says the
	// workspace is trusted (docs/security.md). (The cluster's own file is
	// the user's KUBECONFIG here, which any workspace may use.)
	kc, err := os.ReadFile(f.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	wsKubeconfig := filepath.Join(t.TempDir(), "repo.kubeconfig")
	if err := os.WriteFile(wsKubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t, map[string]any{"kubeconfig": wsKubeconfig})
	var l launch
	if _, err := c.conn.Call(ctx, "mirrord/startSession", map[string]any{
		"configPath": cfg, "target": "deployment/" + apiName, "executable": "sh",
	}, &l); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("mirrord/startSession in an untrusted workspace: %v, want a refusal", err)
	}
	if err := c.conn.Notify(ctx, "mirrord/didChangeWorkspaceTrust", map[string]any{"trusted": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Call(ctx, "mirrord/startSession", map[string]any{
		"configPath": cfg, "target": "deployment/" + apiName, "executable": "sh",
		"workDoneToken": "start-1",
	}, &l); err != nil {
		t.Fatalf("mirrord/startSession: %v\n%s", err, stderr.String())
	}
	c.mu.Lock()
	prog := fmt.Sprint(c.prog)
	c.mu.Unlock()
	for _, want := range []string{"kind:begin", "kind:report", "kind:end"} {
		if !strings.Contains(prog, want) {
			t.Errorf("$/progress lacks %s: %s", want, prog)
		}
	}
	probe := runWithLaunch(t, l, f.ns)
	f.checkInPod(t, probe, apiName, f.podIP(t, "app="+apiName))
	if _, err := c.conn.Call(ctx, "mirrord/stopSession", map[string]any{"session_id": l.SessionID}, nil); err != nil {
		t.Fatalf("mirrord/stopSession: %v", err)
	}
	f.agentsGone(t, f.ns)
}

// checkGoProgramsWithLaunch: with only the launch environment (what an
// editor injects), Go programs see the pod too — a dynamically linked one
// started directly (the layer's constructor hands it to the supervisor)
// and a static one started by a shell (the layer's exec hook runs it
// through the exec wrapper).
func (f *fixture) checkGoProgramsWithLaunch(t *testing.T, l launch) {
	t.Helper()
	dir := t.TempDir()
	dynamic := buildGoprobe(t, filepath.Join(dir, "goprobe-dynamic"), true)
	static := buildGoprobe(t, filepath.Join(dir, "goprobe-static"), false)
	ip := f.podIP(t, "app="+apiName)
	args := []string{"env=APP_GREETING", "cat=" + podFile, "get=http://orders/cgi-bin/whoami"}
	for _, run := range []struct {
		what string
		cmd  []string
	}{
		{"a dynamic Go program started directly", append([]string{dynamic}, args...)},
		{"a static Go program started by sh", []string{"sh", "-c", static + " " + strings.Join(args, " ")}},
	} {
		out := runCmdWithLaunch(t, l, run.cmd[0], run.cmd[1:]...)
		if g := lineWith(out, "env APP_GREETING "); g != podGreeting {
			t.Errorf("%s: APP_GREETING = %q, want %q\n%s", run.what, g, podGreeting, out)
		}
		if got := lineWith(out, "cat "); !strings.HasPrefix(got, fmt.Sprintf("%q", podFileText)[:len(podFileText)+1]) {
			t.Errorf("%s: pod-only file %q, want %q\n%s", run.what, got, podFileText, out)
		}
		if got := lineWith(out, "get "); !calledFrom(got, ip) || !strings.Contains(got, "pod="+ordersName+"-") {
			t.Errorf("%s: %q, want orders answering a call from %s\n%s", run.what, got, ip, out)
		}
	}
}
