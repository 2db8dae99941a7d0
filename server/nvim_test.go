package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/editortest"
)

// buildServer compiles cmd/mirrord-ls into dir.
func buildServer(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mirrord-ls")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/mirrord-ls")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building mirrord-ls: %v\n%s", err, out)
	}
	return bin
}

type nvimResult struct {
	Error       string `json:"error"`
	Diagnostics []struct {
		Lnum     int    `json:"lnum"`
		Col      int    `json:"col"`
		EndLnum  int    `json:"end_lnum"`
		EndCol   int    `json:"end_col"`
		Severity int    `json:"severity"`
		Message  string `json:"message"`
		Source   string `json:"source"`
	} `json:"diagnostics"`
	Incremental int `json:"incremental"`
	Completion  []struct {
		Label   string `json:"label"`
		NewText string `json:"newText"`
	} `json:"completion"`
	DiagnosticsAfterEdit []struct {
		Lnum    int    `json:"lnum"`
		Message string `json:"message"`
	} `json:"diagnostics_after_edit"`
	Stopped bool `json:"stopped"`
}

// TestNeovim runs the server under neovim's built-in LSP client (headless):
// neovim starts `mirrord-ls --stdio`, opens a broken config, shows its
// diagnostics, and completes a half-typed key.
func TestNeovim(t *testing.T) {
	if testing.Short() {
		t.Skip("starts neovim")
	}
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		t.Fatal("neovim is required (make deps installs it): ", err)
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	ws := filepath.Join(dir, "ws")
	cfg := filepath.Join(ws, ".mirrord", "mirrord.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("{\n  \"feture\": {},\n  \"feature\": {\"fs\": {\"mode\": \"rad\"}}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/nvim/lsp_test.lua")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "result.json")
	logFile := filepath.Join(dir, "server.log")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "--clean", "-n", "-i", "NONE", "-c", "luafile "+script)
	cmd.Dir = ws
	cmd.Env = append(os.Environ(),
		"MIRRORD_LS_BIN="+bin, "MIRRORD_LS_CONFIG="+cfg, "MIRRORD_LS_OUT="+out, "MIRRORD_LS_LOG="+logFile,
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	var res nvimResult
	editortest.RunJSON(t, "neovim", cmd, out, &res)
	t.Cleanup(func() {
		if t.Failed() {
			logData, _ := os.ReadFile(logFile)
			t.Logf("result: %+v\nserver log:\n%s", res, logData)
		}
	})
	if res.Error != "" {
		t.Fatalf("neovim script: %s", res.Error)
	}
	if res.Incremental != 2 {
		t.Errorf("textDocumentSync.change = %d, want 2 (incremental)", res.Incremental)
	}
	var unknown, enum bool
	for _, d := range res.Diagnostics {
		if d.Lnum == 1 && d.Col == 2 && d.EndLnum == 1 && d.EndCol == 10 && strings.Contains(d.Message, "feture") && d.Severity == 1 && d.Source == "mirrord" {
			unknown = true
		}
		if d.Lnum == 2 && strings.Contains(d.Message, "rad") && d.Severity == 1 {
			enum = true
		}
	}
	if !unknown || !enum {
		t.Errorf("neovim shows %+v; want the unknown key at 1:2-1:10 and the enum error on line 2", res.Diagnostics)
	}
	var labels []string
	for _, it := range res.Completion {
		labels = append(labels, it.Label)
		if it.Label == "mode" && !strings.HasPrefix(it.NewText, `"mode": `) {
			t.Errorf("mode inserts %q", it.NewText)
		}
	}
	if !slices.Contains(labels, "mode") || slices.Contains(labels, "feature") {
		t.Errorf("completion in neovim = %v, want the keys of feature.fs (mode, ...)", labels)
	}
	for _, d := range res.DiagnosticsAfterEdit {
		if strings.Contains(d.Message, "feture") {
			t.Errorf("stale diagnostic after the edit: %+v", d)
		}
	}
	if len(res.DiagnosticsAfterEdit) == 0 {
		t.Error("no diagnostics for the incomplete document after the edit")
	}
	if !res.Stopped {
		t.Error("the server did not stop when neovim stopped the client")
	}
	// neovim's capabilities decode into go.lsp.dev/protocol's types
	// without the lenient fallback of initialize.
	if logData, err := os.ReadFile(logFile); err != nil {
		t.Errorf("reading the server log: %v", err)
	} else if strings.Contains(string(logData), capabilityTypeWarning) {
		t.Errorf("the server could not decode neovim's capabilities:\n%s", logData)
	}
}
