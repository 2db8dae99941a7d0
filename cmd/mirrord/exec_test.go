package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/mirrord-ls/mirrord-ls/session"
)

// unsetenv removes k for the test and restores it afterwards.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // registers the restore
	os.Unsetenv(k)
}

// The flags users copy from mirrord's docs set the variables mirrord's
// flags set (reference config.md §2.2).
func TestSessionFlagsOverrides(t *testing.T) {
	var f sessionFlags
	fl := pflag.NewFlagSet("exec", pflag.ContinueOnError)
	f.register(fl, sessionFlagSet{fsMode: true, ephemeralShort: true})
	err := fl.Parse([]string{"-f", "m.json", "-t", "deployment/api", "-n", "shop", "-a", "agents", "-i", "registry.test/agent:1",
		"--context", "kind-x", "--steal", "--fs-mode", "write", "-e"})
	if err != nil {
		t.Fatal(err)
	}
	req := f.request()
	if req.ConfigPath != "m.json" || req.Target != "deployment/api" {
		t.Fatalf("request %+v", req)
	}
	want := map[string]string{
		"MIRRORD_TARGET_NAMESPACE": "shop", "MIRRORD_AGENT_NAMESPACE": "agents", "MIRRORD_AGENT_IMAGE": "registry.test/agent:1",
		"MIRRORD_KUBE_CONTEXT": "kind-x", "MIRRORD_AGENT_TCP_STEAL_TRAFFIC": "true", "MIRRORD_FILE_MODE": "write",
		"MIRRORD_EPHEMERAL_CONTAINER": "true",
	}
	if len(req.Env) != len(want) {
		t.Errorf("overrides %v, want %v", req.Env, want)
	}
	for k, v := range want {
		if req.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, req.Env[k], v)
		}
	}
	// No flags: no overrides, so the variables and the file decide.
	var none sessionFlags
	if env := none.overrides(); len(env) != 0 {
		t.Errorf("overrides without flags: %v", env)
	}
}

// ext keeps -e for the executable; port-forward has no --fs-mode, and -n
// is --target-namespace with the old --namespace still accepted.
func TestCommandFlags(t *testing.T) {
	ext := newExtCmd()
	if err := ext.Flags().Parse([]string{"-e", "/bin/app", "--ephemeral-container", "-n", "ns1"}); err != nil {
		t.Fatal(err)
	}
	if got := ext.Flags().Lookup("executable").Value.String(); got != "/bin/app" {
		t.Errorf("ext -e = %q", got)
	}
	if got := ext.Flags().Lookup("ephemeral-container").Value.String(); got != "true" {
		t.Errorf("ext --ephemeral-container = %q", got)
	}
	pf := newPortForwardCmd()
	if pf.Flags().Lookup("fs-mode") != nil {
		t.Error("port-forward has --fs-mode")
	}
	for _, args := range [][]string{{"-n", "shop"}, {"--target-namespace", "shop"}, {"--namespace", "shop"}} {
		pf := newPortForwardCmd()
		if err := pf.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		if got := pf.Flags().Lookup("target-namespace").Value.String(); got != "shop" {
			t.Errorf("port-forward %v: target namespace %q", args, got)
		}
	}
	exec := newExecCmd()
	for _, name := range []string{"target", "target-namespace", "agent-namespace", "agent-image", "context", "steal", "fs-mode", "ephemeral-container", "config-file"} {
		if exec.Flags().Lookup(name) == nil {
			t.Errorf("exec has no --%s", name)
		}
	}
	if exec.Flags().ShorthandLookup("e").Name != "ephemeral-container" {
		t.Error("exec -e is not --ephemeral-container")
	}
}

// Precedence, through the config engine: a flag over the variable over
// the file over the default.
func TestSessionFlagsPrecedence(t *testing.T) {
	for _, k := range []string{"MIRRORD_AGENT_IMAGE", "MIRRORD_AGENT_NAMESPACE", "MIRRORD_TARGET_NAMESPACE", "MIRRORD_FILE_MODE",
		"MIRRORD_AGENT_TCP_STEAL_TRAFFIC", "MIRRORD_EPHEMERAL_CONTAINER", "MIRRORD_KUBE_CONTEXT", "MIRRORD_CONFIG_FILE", "MIRRORD_IMPERSONATED_TARGET"} {
		unsetenv(t, k)
	}
	cfg := filepath.Join(t.TempDir(), "m.json")
	text := `{"target": {"path": "pod/a", "namespace": "file-ns"}, "kube_context": "file-ctx",
		"agent": {"image": "file/agent:1", "namespace": "file-agents"}, "feature": {"fs": "read"}}`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	resolve := func(args ...string) *session.Resolved {
		t.Helper()
		var f sessionFlags
		fl := pflag.NewFlagSet("exec", pflag.ContinueOnError)
		f.register(fl, sessionFlagSet{fsMode: true, ephemeralShort: true})
		if err := fl.Parse(append([]string{"-f", cfg}, args...)); err != nil {
			t.Fatal(err)
		}
		rc, err := session.ResolveConfig(context.Background(), f.request())
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	type view struct{ target, ns, image, agentNS, kctx, fs, incoming string }
	look := func(rc *session.Resolved) view {
		c := rc.Config
		return view{rc.Target(), *c.Target.Namespace, c.Agent.Image, *c.Agent.Namespace, *c.KubeContext, rc.Settings.FS.Mode, rc.Settings.Incoming.Mode}
	}
	if got, want := look(resolve()), (view{"pod/a", "file-ns", "file/agent:1", "file-agents", "file-ctx", "read", "mirror"}); got != want {
		t.Errorf("file only: %+v, want %+v", got, want)
	}
	t.Setenv("MIRRORD_AGENT_IMAGE", "env/agent:2")
	t.Setenv("MIRRORD_TARGET_NAMESPACE", "env-ns")
	t.Setenv("MIRRORD_FILE_MODE", "local")
	if got, want := look(resolve()), (view{"pod/a", "env-ns", "env/agent:2", "file-agents", "file-ctx", "local", "mirror"}); got != want {
		t.Errorf("variables over the file: %+v, want %+v", got, want)
	}
	rc := resolve("-t", "deployment/b", "-n", "flag-ns", "-i", "flag/agent:3", "-a", "flag-agents", "--context", "flag-ctx",
		"--fs-mode", "write", "--steal", "-e")
	if got, want := look(rc), (view{"deployment/b", "flag-ns", "flag/agent:3", "flag-agents", "flag-ctx", "write", "steal"}); got != want {
		t.Errorf("flags over the variables: %+v, want %+v", got, want)
	}
	if !rc.Config.Agent.Ephemeral {
		t.Error("-e did not make the agent ephemeral")
	}
	// A bad value is the config engine's error, naming the variable.
	var f sessionFlags
	fl := pflag.NewFlagSet("exec", pflag.ContinueOnError)
	f.register(fl, sessionFlagSet{fsMode: true})
	_ = fl.Parse([]string{"-f", cfg, "--fs-mode", "sometimes"})
	_, err := session.ResolveConfig(context.Background(), f.request())
	var se *session.Error
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "MIRRORD_FILE_MODE") {
		t.Fatalf("err = %v", err)
	}
}

// A config error is reported with its position, the session error's hint
// on its own line.
func TestExecConfigError(t *testing.T) {
	unsetenv(t, "MIRRORD_CONFIG_FILE")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"feature": {"fs": {"mode": "sometimes"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	_, err := runExec(context.Background(), session.Request{ConfigPath: bad}, []string{"true"}, &progress)
	if err == nil || !strings.Contains(err.Error(), "bad.json:1:") || !strings.Contains(err.Error(), "\n  help: Run `mirrord verify-config") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(progress.String(), "* resolving configuration failed [") {
		t.Errorf("progress:\n%s", progress.String())
	}
	if _, err := runExec(context.Background(), session.Request{}, []string{"no-such-command-here"}, &progress); err == nil ||
		!strings.Contains(err.Error(), "no-such-command-here") {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestExecProgress(t *testing.T) {
	var b strings.Builder
	p := execProgress(&b, time.Now())
	p(session.Event{Kind: session.TaskStarted, Task: session.TaskAgent})
	p(session.Event{Kind: session.TaskProgress, Task: session.TaskAgent, Message: "agent Job j created in ns (image i)"})
	p(session.Event{Kind: session.TaskFinished, Task: session.TaskAgent, Success: true, Message: "agent pod p running"})
	p(session.Event{Kind: session.Warning, Message: "careful"})
	p(session.Event{Kind: session.TaskFinished, Task: session.TaskConnect})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{"* starting agent: agent Job j created in ns (image i) [", "* starting agent: agent pod p running [",
		"* warning: careful", "* connecting to agent failed ["}
	if len(lines) != len(want) || !slices.EqualFunc(lines, want, strings.HasPrefix) {
		t.Fatalf("progress:\n%s", b.String())
	}
}
