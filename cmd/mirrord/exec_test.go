package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsetenv removes k for the test and restores it afterwards.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // registers the restore
	os.Unsetenv(k)
}

func TestExecSettingsNeedsAnAgent(t *testing.T) {
	unsetenv(t, "MIRRORD_AGENT_ADDRESS")
	unsetenv(t, "MIRRORD_AGENT_TOKEN")
	_, err := execSettings(context.Background(), "", "", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "MIRRORD_AGENT_ADDRESS") {
		t.Fatalf("err = %v, want a hint about MIRRORD_AGENT_ADDRESS", err)
	}
	cfg := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(cfg, []byte(`{"target": "pod/a", "feature": {"fs": "write"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MIRRORD_AGENT_ADDRESS", "127.0.0.1:1")
	t.Setenv("MIRRORD_AGENT_TOKEN", "x")
	s, err := execSettings(context.Background(), cfg, "pod/b", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Agent.Address != "127.0.0.1:1" || s.Agent.Token != "x" || s.Target != "pod/b" || s.FS.Mode != "write" {
		t.Fatalf("settings %+v", s)
	}
	withAgent := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(withAgent, []byte(`{"agent": {"address": "10.0.0.1:7", "token": "tk"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	unsetenv(t, "MIRRORD_AGENT_ADDRESS")
	unsetenv(t, "MIRRORD_AGENT_TOKEN")
	if s, err := execSettings(context.Background(), withAgent, "", io.Discard); err != nil || s.Agent.Address != "10.0.0.1:7" || s.Agent.Token != "tk" {
		t.Fatalf("agent from the file: %+v, %v", s.Agent, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"feature": {"fs": {"mode": "sometimes"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := execSettings(context.Background(), bad, "", io.Discard); err == nil || !strings.Contains(err.Error(), "bad.json:1:") {
		t.Fatalf("err = %v, want a positioned config error", err)
	}
}

func TestBinaryWarning(t *testing.T) {
	self, err := os.Executable() // a Go test binary
	if err != nil {
		t.Fatal(err)
	}
	if w := binaryWarning(self); !strings.Contains(w, "Go program") && !strings.Contains(w, "statically linked") {
		t.Fatalf("no warning for a Go binary: %q", w)
	}
	if w := binaryWarning("/bin/sh"); w != "" {
		t.Fatalf("warning for /bin/sh: %q", w)
	}
}

func TestEnvHelpers(t *testing.T) {
	env := setEnv([]string{"A=1", "LD_PRELOAD=x", "B=2"}, "LD_PRELOAD", prependList("/l.so", "x"))
	if strings.Join(env, " ") != "A=1 B=2 LD_PRELOAD=/l.so:x" {
		t.Fatalf("env %v", env)
	}
}
