package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/editortest"
)

// docBlocks returns the fenced blocks of lang in the section of
// docs/editors.md that starts with heading.
func docBlocks(t *testing.T, heading, lang string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "editors.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, heading)
	if start < 0 {
		t.Fatalf("docs/editors.md has no %q", heading)
	}
	section := text[start+len(heading):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	open := "```" + lang + "\n"
	for {
		i := strings.Index(section, open)
		if i < 0 {
			return blocks
		}
		section = section[i+len(open):]
		j := strings.Index(section, "```")
		if j < 0 {
			t.Fatalf("unterminated %s block in %s", lang, heading)
		}
		blocks = append(blocks, section[:j])
		section = section[j+3:]
	}
}

// nvimMinor is the minor version of neovim 0.x (-1 if unknown).
func nvimMinor(t *testing.T, nvim string) int {
	out, err := exec.Command(nvim, "--version").Output()
	if err != nil {
		t.Fatalf("nvim --version: %v", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(out), "NVIM v%d.%d", &major, &minor); err != nil {
		return -1
	}
	if major > 0 {
		return 1 << 20
	}
	return minor
}

type nvimDocsResult struct {
	Error   string `json:"error"`
	Configs []struct {
		File        string `json:"file"`
		MS          int    `json:"ms"`
		Diagnostics []struct {
			Lnum    int    `json:"lnum"`
			Col     int    `json:"col"`
			EndCol  int    `json:"end_col"`
			Message string `json:"message"`
		} `json:"diagnostics"`
		Completion []string `json:"completion"`
		Hover      struct {
			Kind  string `json:"kind"`
			Value string `json:"value"`
		} `json:"hover"`
	} `json:"configs"`
	PackageJSON struct {
		Clients     int `json:"clients"`
		Diagnostics int `json:"diagnostics"`
	} `json:"package_json"`
	Clients []string `json:"clients"`
}

// TestNeovimDocs runs the neovim configurations of docs/editors.md as
// written (mirrord-ls found on PATH) in headless neovim: the 0.7 one
// always, the 0.8+ one when the installed neovim has vim.lsp.start.
func TestNeovimDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts neovim")
	}
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		t.Fatal("neovim is required (make deps installs it): ", err)
	}
	blocks := docBlocks(t, "## Neovim", "lua")
	configs := map[string]string{}
	for _, b := range blocks {
		switch {
		case strings.Contains(b, "vim.lsp.start_client("):
			configs["0.7"] = b
		case strings.Contains(b, "vim.lsp.start("):
			configs["0.8+"] = b
		}
	}
	if len(configs) != 2 {
		t.Fatalf("want the 0.7 and the 0.8+ configuration in docs/editors.md, found %d lua blocks: %v", len(blocks), configs)
	}
	minor := nvimMinor(t, nvim)
	bin := buildServer(t, t.TempDir())
	check, err := filepath.Abs("testdata/nvim/docs_check.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0.7", "0.8+"} {
		t.Run(name, func(t *testing.T) {
			if name == "0.8+" && minor < 8 {
				// At least the Lua must compile.
				file := filepath.Join(t.TempDir(), "init.lua")
				if err := os.WriteFile(file, []byte(configs[name]), 0o644); err != nil {
					t.Fatal(err)
				}
				compile := exec.Command(nvim, "--headless", "--clean", "-n", "-i", "NONE",
					"-c", "lua local _, err = loadfile('"+file+"'); if err then io.stderr:write(err) vim.cmd('cquit 1') end", "-c", "qa!")
				if out, err := compile.CombinedOutput(); err != nil {
					t.Fatalf("the 0.8+ configuration does not compile: %v\n%s", err, out)
				}
				t.Skipf("neovim 0.%d has no vim.lsp.start; the configuration compiles but was not run", minor)
			}
			dir := t.TempDir()
			ws := filepath.Join(dir, "ws")
			editortest.WriteTree(t, ws, map[string]string{
				".mirrord/mirrord.json": "{\n  \"feture\": {},\n  \"feature\": {\"fs\": {\"mode\": \"read\"}}\n}\n",
				"staging.mirrord.yaml":  "feature:\n  fs:\n    mode: rad\n",
				".mirrord/dev.toml":     "[feature.fs]\nmode = \"rad\"\n",
				"package.json":          "{\"name\": \"app\", \"feture\": 1}\n",
				".git/HEAD":             "ref: refs/heads/main\n",
			})
			initLua := filepath.Join(dir, "init.lua")
			if err := os.WriteFile(initLua, []byte(configs[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "result.json")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, nvim, "--headless", "--clean", "-n", "-i", "NONE", "-u", initLua, "-c", "luafile "+check)
			cmd.Dir = ws
			cmd.Env = append(os.Environ(),
				"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
				"MIRRORD_LS_OUT="+out,
				"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
				"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
			var res nvimDocsResult
			combined := editortest.RunJSON(t, "neovim", cmd, out, &res)
			if res.Error != "" {
				t.Fatalf("neovim: %s\n%s", res.Error, combined)
			}
			// 0-based lines and columns, as neovim keeps them.
			want := map[string][3]int{
				".mirrord/mirrord.json": {1, 2, 10},
				"staging.mirrord.yaml":  {2, 10, 13},
				".mirrord/dev.toml":     {1, 7, 12},
			}
			for _, c := range res.Configs {
				w := want[c.File]
				found := false
				for _, d := range c.Diagnostics {
					if d.Lnum == w[0] && d.Col == w[1] && d.EndCol == w[2] {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: diagnostics %+v, want one at %d:%d-%d", c.File, c.Diagnostics, w[0], w[1], w[2])
				}
				if !slices.Contains(c.Completion, "mode") || slices.Contains(c.Completion, "feature") {
					t.Errorf("%s: completion in feature.fs = %v, want its keys (mode, ...)", c.File, c.Completion)
				}
				// neovim renders Markdown and says so.
				if c.Hover.Kind != "markdown" || !strings.HasPrefix(c.Hover.Value, "**mode**") {
					t.Errorf("%s: hover = %+v, want Markdown on mode", c.File, c.Hover)
				}
				t.Logf("%s: diagnostics %d ms after opening", c.File, c.MS)
				delete(want, c.File)
			}
			if len(want) != 0 {
				t.Errorf("no result for %v", want)
			}
			if res.PackageJSON.Clients != 0 || res.PackageJSON.Diagnostics != 0 {
				t.Errorf("package.json: %+v, want no client and no diagnostics", res.PackageJSON)
			}
			if len(res.Clients) != 1 || res.Clients[0] != "mirrord-ls" {
				t.Errorf("clients %v, want one mirrord-ls for the three configs", res.Clients)
			}
		})
	}
}
