package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/editortest"
)

type vimDocsResult struct {
	Error   string `json:"error"`
	Configs []struct {
		File        string `json:"file"`
		Filetype    string `json:"filetype"`
		MS          int    `json:"ms"`
		Diagnostics []struct {
			Lnum   int    `json:"lnum"`
			Col    int    `json:"col"`
			EndCol int    `json:"end_col"`
			Linter string `json:"linter"`
			Text   string `json:"text"`
		} `json:"diagnostics"`
	} `json:"configs"`
	PackageJSON struct {
		Filetype    string `json:"filetype"`
		Diagnostics int    `json:"diagnostics"`
	} `json:"package_json"`
}

// aleInstalled reports whether Vim can `packadd ale` (Debian's vim-ale).
func aleInstalled(vim string) bool {
	// ALE's plugin file sets this variable when it loads.
	return exec.Command(vim, "-N", "-u", "NONE", "-i", "NONE", "-es",
		"-c", "packadd ale", "-c", "if exists('g:loaded_ale_dont_use_this_in_other_plugins_please') | cquit 0 | else | cquit 1 | endif").Run() == nil
}

// TestVimDocs runs the Vim + ALE configuration of docs/editors.md as
// written (mirrord-ls found on PATH) in Vim on a pseudo-terminal (Vim
// without a terminal exits at the end of its input).
func TestVimDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts vim")
	}
	vim, err := exec.LookPath("vim")
	if err != nil {
		t.Fatal("vim is required (make deps installs it): ", err)
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("script (util-linux) is required for a pseudo-terminal: ", err)
	}
	if !aleInstalled(vim) {
		t.Fatal("ALE is required (make deps installs vim-ale)")
	}
	blocks := docBlocks(t, "## Vim", "vim")
	if len(blocks) != 1 || !strings.Contains(blocks[0], "ale#linter#Define") {
		t.Fatalf("want one vim block with ale#linter#Define in docs/editors.md's Vim section, got %q", blocks)
	}
	bin := buildServer(t, t.TempDir())
	check, err := filepath.Abs("testdata/vim/docs_check.vim")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	editortest.WriteTree(t, ws, map[string]string{
		".mirrord/mirrord.json": "{\n  \"feture\": {}\n}\n",
		"staging.mirrord.yaml":  "feature:\n  fs:\n    mode: rad\n",
		".mirrord/dev.toml":     "[feature.fs]\nmode = \"rad\"\n",
		"package.json":          "{\"name\": \"app\", \"feture\": 1}\n",
		".git/HEAD":             "ref: refs/heads/main\n",
	})
	vimrc := filepath.Join(dir, "vimrc")
	if err := os.WriteFile(vimrc, []byte("set nocompatible\nfiletype plugin on\n"+blocks[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "result.json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	vimCmd := strings.Join([]string{vim, "-N", "-u", vimrc, "-i", "NONE", "-n", "-S", check}, " ")
	cmd := exec.CommandContext(ctx, script, "-q", "-e", "-c", vimCmd, "/dev/null")
	cmd.Dir = ws
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"MIRRORD_LS_OUT="+out, "HOME="+dir, "TERM=xterm")
	var res vimDocsResult
	editortest.RunJSON(t, "vim", cmd, out, &res)
	if res.Error != "" {
		t.Fatalf("vim: %s", res.Error)
	}
	// ALE's positions: 1-based lines and columns, end column inclusive.
	want := map[string][3]int{
		".mirrord/mirrord.json": {2, 3, 10},
		"staging.mirrord.yaml":  {3, 11, 13},
		".mirrord/dev.toml":     {2, 8, 12},
	}
	for _, c := range res.Configs {
		w, ok := want[c.File]
		if !ok {
			t.Errorf("unexpected result for %s", c.File)
			continue
		}
		found := false
		for _, d := range c.Diagnostics {
			if d.Linter == "mirrord-ls" && d.Lnum == w[0] && d.Col == w[1] && d.EndCol == w[2] {
				found = true
			}
		}
		if !found {
			t.Errorf("%s (filetype %s): diagnostics %+v, want mirrord-ls's at %d:%d-%d", c.File, c.Filetype, c.Diagnostics, w[0], w[1], w[2])
		}
		t.Logf("%s: diagnostics %d ms after opening", c.File, c.MS)
		delete(want, c.File)
	}
	if len(want) != 0 {
		t.Errorf("no result for %v", want)
	}
	if res.PackageJSON.Filetype != "json" || res.PackageJSON.Diagnostics != 0 {
		t.Errorf("package.json: %+v, want a json buffer without diagnostics", res.PackageJSON)
	}
}
