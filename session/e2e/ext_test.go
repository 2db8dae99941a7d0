package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

// The editor flow end to end: ext → parse → python with the launch
// environment sees the pod's environment and resolves through the pod's
// DNS; the session is listed and stopped with the CLI; nothing is left.
func TestExtPythonSeesRemoteEnvAndDNS(t *testing.T) {
	f := newFixture(t, map[string]string{"GREETING": "hello from the pod", "DROP_ME": "x", "DB_URL": "postgres://db"})
	cfg := f.config(map[string]any{
		"feature": map[string]any{"env": map[string]any{
			"override": map[string]string{"DB_URL": "postgres://override"},
			"unset":    []string{"LOCAL_ONLY"},
			"exclude":  []string{"DROP_ME"},
		}},
		// The session must outlive the python run until the test stops it.
		"internal_proxy": map[string]any{"idle_timeout": 120},
	})
	stdout, stderr, code := f.runMirrord(f.env("MIRRORD_BRANCH_NAME=PROJ-7-sessions", "MIRRORD_TARGET_NAMESPACE=staging"),
		"ext", "-f", cfg, "-t", "pod/api-0", "-e", "python3")
	if code != 0 || stderr != "" {
		t.Fatalf("ext exit %d\nstderr: %s\nstdout: %s", code, stderr, stdout)
	}
	t.Logf("mirrord ext stdout:\n%s", stdout)
	res := parseLikeIDE(t, strings.NewReader(stdout))
	if res.exec == nil {
		t.Fatalf("no root FinishedTask with a result:\n%s", stdout)
	}
	if first := res.lines[0]; first.Type != "NewTask" || first.Name != rootTask || first.Parent != nil {
		t.Errorf("first line %+v, want the root NewTask with parent null", first)
	}
	for _, l := range res.lines[1 : len(res.lines)-1] {
		if l.Type == "NewTask" && (l.Parent == nil || *l.Parent != rootTask) {
			t.Errorf("subtask %q is not under the root task", l.Name)
		}
	}
	// The raw message keeps the official field set, patched_path null.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(res.execRaw), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "env_to_unset,environment,patched_path,uses_operator" ||
		string(raw["patched_path"]) != "null" || string(raw["uses_operator"]) != "false" {
		t.Errorf("MirrordExecution %s", res.execRaw)
	}
	env := res.exec.Environment
	for _, k := range []string{"LD_PRELOAD", "MIRRORD_LAYER_INTPROXY_ADDR", "MIRRORD_RESOLVED_CONFIG"} {
		if env[k] == "" {
			t.Errorf("environment lacks %s: %v", k, env)
		}
	}
	if !strings.HasSuffix(strings.Split(env["LD_PRELOAD"], ":")[0], "libmirrord_layer.so") {
		t.Errorf("LD_PRELOAD = %q", env["LD_PRELOAD"])
	}
	if env["GREETING"] != "hello from the pod" || env["DB_URL"] != "postgres://override" {
		t.Errorf("remote environment not merged: GREETING=%q DB_URL=%q", env["GREETING"], env["DB_URL"])
	}
	if _, ok := env["DROP_ME"]; ok {
		t.Error("excluded DROP_ME is in the environment")
	}
	if !slices.Contains(res.exec.EnvToUnset, "LOCAL_ONLY") {
		t.Errorf("env_to_unset = %v", res.exec.EnvToUnset)
	}
	cfgJSON, err := base64.StdEncoding.DecodeString(env["MIRRORD_RESOLVED_CONFIG"])
	if err != nil || !json.Valid(cfgJSON) {
		t.Fatalf("MIRRORD_RESOLVED_CONFIG is not base64 JSON: %v", err)
	}
	if bytes.Contains(cfgJSON, []byte(f.agent.Token)) {
		t.Error("MIRRORD_RESOLVED_CONFIG carries the agent token")
	}
	var resolvedCfg struct {
		Target struct {
			Namespace string `json:"namespace"`
		} `json:"target"`
	}
	if err := json.Unmarshal(cfgJSON, &resolvedCfg); err != nil || resolvedCfg.Target.Namespace != "staging" {
		t.Errorf("MIRRORD_TARGET_NAMESPACE not honoured: %s", cfgJSON)
	}
	if res.sessionID == "" {
		t.Fatal("no `session ID:` Info line")
	}

	// The session is registered before ext exits.
	lsOut, lsErr, code := f.runMirrord(f.env(), "session", "ls", "-o", "json")
	if code != 0 {
		t.Fatalf("session ls: %d %s", code, lsErr)
	}
	var infos []registry.Info
	if err := json.Unmarshal([]byte(lsOut), &infos); err != nil {
		t.Fatalf("session ls -o json: %v\n%s", err, lsOut)
	}
	if len(infos) != 1 || infos[0].ID != res.sessionID || infos[0].Target != "pod/api-0" {
		t.Fatalf("sessions %+v, want %s on pod/api-0", infos, res.sessionID)
	}
	intproxy := infos[0].PID

	// The debuggee: python3 with the launch environment, as the editor runs it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	py := exec.CommandContext(ctx, "python3", "-c", fmt.Sprintf(`
import os, socket
print(os.environ.get("GREETING"))
print(os.environ.get("DB_URL"))
print(os.environ.get("LOCAL_ONLY", "unset"))
print(socket.gethostbyname(%q))
`, agenttest.HostsName))
	py.Env = launchEnv(append(os.Environ(), "LOCAL_ONLY=local"), res.exec)
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	out, err := py.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, pyErr.String())
	}
	want := "hello from the pod\npostgres://override\nunset\n" + agenttest.PeerIP.String() + "\n"
	if string(out) != want {
		t.Fatalf("python printed %q, want %q (stderr %s)", out, want, pyErr.String())
	}

	// Stop it with the CLI: it is gone, and so is its process.
	if _, errOut, code := f.runMirrord(f.env(), "session", "stop", res.sessionID); code != 0 {
		t.Fatalf("session stop: %d %s", code, errOut)
	}
	agenttest.WaitGone(t, intproxy)
	lsOut, _, _ = f.runMirrord(f.env(), "session", "ls", "-o", "json")
	if strings.TrimSpace(lsOut) != "[]" {
		t.Fatalf("sessions after stop: %s", lsOut)
	}
	entries, _ := os.ReadDir(f.sessions)
	if len(entries) != 0 {
		t.Errorf("session directory not empty: %v", entries)
	}
	if _, err := os.Stat(env["MIRRORD_LAYER_INTPROXY_ADDR"]); !os.IsNotExist(err) {
		t.Errorf("layer socket left behind: %v", err)
	}
}

// Errors: one `Error: {json}` line on stderr, exit 1, and the root task
// finished unsuccessfully with a null message on stdout.
func TestExtErrorContract(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, cfg   string
		env         []string
		wantMessage string
	}{
		{"invalid config", `{"feature": {"fs": {"mode": "sideways"}}}`, nil, "the mirrord config is invalid"},
		{"wrong token", `{}`, []string{"MIRRORD_AGENT_TOKEN=not-the-token"}, "cannot connect to the agent at " + f.agent.Addr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.t.TempDir() + "/mirrord.json"
			if err := os.WriteFile(p, []byte(c.cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := f.runMirrord(f.env(c.env...), "ext", "-f", p)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout %s\nstderr %s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") {
				t.Fatalf("stderr is not one Error line: %q", stderr)
			}
			var report struct {
				Message  string   `json:"message"`
				Severity string   `json:"severity"`
				Causes   []string `json:"causes"`
				Help     string   `json:"help"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "Error: ")), &report); err != nil {
				t.Fatalf("error JSON: %v: %s", err, lines[0])
			}
			if report.Message != c.wantMessage || report.Severity != "error" || len(report.Causes) == 0 || report.Help == "" {
				t.Errorf("report %+v", report)
			}
			res := parseLikeIDE(t, strings.NewReader(stdout))
			last := res.lines[len(res.lines)-1]
			if res.exec != nil || last.Type != "FinishedTask" || last.Name != rootTask || *last.Success || string(last.Message) != "null" {
				t.Errorf("last stdout line %+v (message %s)", last, last.Message)
			}
			if infos, _ := registry.List(context.Background(), f.sessions); len(infos) != 0 {
				t.Errorf("a failed start left sessions: %+v", infos)
			}
		})
	}
}

// Interrupting ext while it waits for the agent leaves nothing behind.
func TestExtInterruptedLeavesNothing(t *testing.T) {
	f := newFixture(t, nil)
	// An "agent" that accepts and never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	cmd := exec.Command(f.mirrord, "ext")
	cmd.Env = append(f.env(), "MIRRORD_AGENT_ADDRESS="+ln.Addr().String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("ext never connected")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("ext did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"message":"the session start was cancelled"`) &&
		!strings.Contains(stderr.String(), "cannot connect") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if infos, _ := registry.List(context.Background(), f.sessions); len(infos) != 0 {
		t.Errorf("sessions left: %+v", infos)
	}
}
