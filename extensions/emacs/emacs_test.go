// Package emacs tests extensions/emacs/mirrord-config-mode.el in a real,
// headless Emacs with eglot against the built mirrord-ls: configured as
// docs/editors.md says, opening configs in JSON, YAML and TOML shows
// mirrord-ls's diagnostics at the right places, completion and hover work,
// and a package.json of the same project is left alone.
package emacs

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/editortest"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

var update = flag.Bool("update", false, "rewrite testdata/emacs.golden")

func TestMain(m *testing.M) { os.Exit(testbin.Run(m, m.Run)) }

// result is what testdata/driver.el writes.
type result struct {
	Error        string `json:"error"`
	Events       string `json:"events"`
	EmacsVersion string `json:"emacs_version"`
	EglotVersion string `json:"eglot_version"`
	Configs      []struct {
		File        string       `json:"file"`
		Mode        string       `json:"mode"`
		MS          int          `json:"ms"`
		Diagnostics []diagnostic `json:"diagnostics"`
		Completion  []string     `json:"completion"`
		Hover       hover        `json:"hover"`
	} `json:"configs"`
	Servers    int    `json:"servers"`
	ServerName string `json:"server_name"`
	Other      struct {
		Mode        string `json:"mode"`
		Managed     bool   `json:"managed"`
		Server      bool   `json:"server"`
		Diagnostics int    `json:"diagnostics"`
	} `json:"other"`
	InitOptions              map[string]any `json:"init_options"`
	TrustedContact           map[string]any `json:"trusted_contact"`
	EventsMentionPackageJSON bool           `json:"events_mention_package_json"`
	LanguageIDs              []string       `json:"language_ids"`
}

// hover is the contents of a textDocument/hover answer.
type hover struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// diagnostic is a flymake diagnostic: line 1-based, column 0-based (as
// Emacs counts them).
type diagnostic struct {
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
	Type      string `json:"type"`
	Text      string `json:"text"`
}

// project writes the test project: three broken configs and a
// package.json with the same mistake, in a git repository (eglot's
// project).
func project(t *testing.T) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "ws")
	files := map[string]string{
		".mirrord/mirrord.json": "{\n  \"feture\": {},\n  \"feature\": {\"fs\": {\"mode\": \"rad\"}}\n}\n",
		"staging.mirrord.yaml":  "feature:\n  fs:\n    mode: rad\n",
		".mirrord/dev.toml":     "[feature.fs]\nmode = \"rad\"\n",
		"package.json":          "{\"name\": \"app\", \"feture\": 1}\n",
	}
	editortest.WriteTree(t, ws, files)
	if out, err := exec.Command("git", "init", "-q", ws).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	return ws
}

// TestEmacsEglot runs docs/editors.md's Emacs configuration in every Emacs
// there is: Debian 12's Emacs 28 with elpa-eglot, and Emacs 30 with its
// built-in eglot (bookworm-backports, unpacked under .cache by
// scripts/emacs30-install.sh, which `make test` runs through make deps).
func TestEmacsEglot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emacs")
	}
	ran := 0
	if emacs, err := exec.LookPath("emacs"); err == nil {
		t.Run("debian", func(t *testing.T) { runEmacs(t, emacs, "emacs.golden") })
		ran++
	}
	emacs30 := filepath.Join("..", "..", ".cache", "emacs-30.1", "emacs")
	if _, err := os.Stat(emacs30); err == nil {
		abs, err := filepath.Abs(emacs30)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("30", func(t *testing.T) { runEmacs(t, abs, "emacs-30.golden") })
		ran++
	} else {
		t.Logf("Emacs 30 is not installed (bash scripts/emacs30-install.sh): only Debian's Emacs runs")
	}
	if ran == 0 {
		t.Skip("emacs is not installed (make deps installs emacs-nox and elpa-eglot)")
	}
}

func runEmacs(t *testing.T, emacs, golden string) {
	ls := testbin.LS(t)
	init := docsInit(t)
	driver, err := filepath.Abs(filepath.Join("testdata", "driver.el"))
	if err != nil {
		t.Fatal(err)
	}
	ws := project(t)
	out := filepath.Join(filepath.Dir(ws), "result.json")
	home := filepath.Join(filepath.Dir(ws), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	initFile := filepath.Join(home, "init.el")
	if err := os.WriteFile(initFile, []byte(init), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, emacs, "--batch", "-l", driver)
	cmd.Dir = ws
	// mirrord-ls is found on PATH, as the docs say; HOME keeps the user's
	// own Emacs configuration out.
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(ls)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "MIRRORD_INIT="+initFile, "MIRRORD_WS="+ws, "MIRRORD_OUT="+out, "MIRRORD_DEADLINE=30")
	var res result
	combined := editortest.RunJSON(t, "emacs", cmd, out, &res)
	if res.Error != "" {
		t.Fatalf("emacs driver: %s\nemacs output:\n%s\neglot events:\n%s", res.Error, combined, res.Events)
	}
	t.Logf("Emacs %s, %s", res.EmacsVersion, res.EglotVersion)
	for _, c := range res.Configs {
		t.Logf("%s: diagnostics %d ms after opening", c.File, c.MS)
	}

	// Each config in its mirrord mode, with mirrord-ls's diagnostics at
	// the positions of the mistakes.
	want := []struct {
		file, mode       string
		line, col, end   int
		contains, prefix string
	}{
		{".mirrord/mirrord.json", "mirrord-config-json-mode", 2, 2, 10, "unknown field `feture`", "mirrord [A-UNKNOWN]: "},
		{"staging.mirrord.yaml", "mirrord-config-yaml-mode", 3, 10, 13, "unknown value `rad`", "mirrord [A-TYPES]: "},
		{".mirrord/dev.toml", "mirrord-config-toml-mode", 2, 7, 12, "unknown value `rad`", "mirrord [A-TYPES]: "},
	}
	if len(res.Configs) != len(want) {
		t.Fatalf("driver opened %d configs, want %d", len(res.Configs), len(want))
	}
	for i, w := range want {
		c := res.Configs[i]
		if c.File != w.file || c.Mode != w.mode {
			t.Errorf("config %d: %s in %s, want %s in %s", i, c.File, c.Mode, w.file, w.mode)
		}
		found := slices.ContainsFunc(c.Diagnostics, func(d diagnostic) bool {
			return d.Line == w.line && d.Column == w.col && d.EndLine == w.line && d.EndColumn == w.end &&
				d.Type == "eglot-error" && strings.HasPrefix(d.Text, w.prefix) && strings.Contains(d.Text, w.contains)
		})
		if !found {
			t.Errorf("%s: flymake shows %+v; want an error %q at %d:%d-%d", w.file, c.Diagnostics, w.contains, w.line, w.col, w.end)
		}
		// Completion and hover after the "mo" of the mode key of
		// feature.fs.
		if !slices.Contains(c.Completion, "mode") || slices.Contains(c.Completion, "feature") {
			t.Errorf("%s: completion in feature.fs = %v, want its keys (mode, ...)", w.file, c.Completion)
		}
		// eglot 1.9 without markdown-mode asks for plain text.
		if c.Hover.Kind != "plaintext" || !strings.HasPrefix(c.Hover.Value, "mode: ") || strings.ContainsAny(c.Hover.Value, "*`") {
			t.Errorf("%s: hover = %+v, want plain text starting with \"mode: \"", w.file, c.Hover)
		}
	}
	if res.Servers != 1 || res.ServerName != "mirrord-ls" {
		t.Errorf("%d servers named %q for the project, want one mirrord-ls for every config", res.Servers, res.ServerName)
	}
	// package.json keeps its own mode, and no mirrord-ls.
	if res.Other.Mode == "" || strings.HasPrefix(res.Other.Mode, "mirrord-config") || res.Other.Managed || res.Other.Server || res.Other.Diagnostics != 0 {
		t.Errorf("package.json: %+v, want its own mode, no eglot server, no diagnostics", res.Other)
	}
	if res.EventsMentionPackageJSON {
		t.Error("mirrord-ls was told about package.json")
	}

	// The project's trust travels in initializationOptions: untrusted by
	// default, trusted inside mirrord-config-trusted-directories.
	if v, ok := res.InitOptions["workspaceTrusted"]; !ok || v != false {
		t.Errorf("initializationOptions = %v, want workspaceTrusted false for a project nobody trusted", res.InitOptions)
	}
	if v := res.TrustedContact["workspaceTrusted"]; v != true {
		t.Errorf("contact for a trusted directory = %v, want workspaceTrusted true", res.TrustedContact)
	}

	// The whole picture, for review.
	checkGolden(t, res, golden)
}

// docsInit is the init.el that docs/editors.md gives for Emacs, with the
// path of this folder filled in.
func docsInit(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "editors.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	section := strings.Index(text, "## Emacs")
	if section < 0 {
		t.Fatal("docs/editors.md has no Emacs section")
	}
	const open = "```elisp\n"
	start := strings.Index(text[section:], open)
	if start < 0 {
		t.Fatal("the Emacs section of docs/editors.md has no elisp block")
	}
	start += section + len(open)
	end := strings.Index(text[start:], "```")
	if end < 0 {
		t.Fatal("unterminated elisp block in docs/editors.md")
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "/path/to/mirrord-ls/extensions/emacs"
	block := text[start : start+end]
	if !strings.Contains(block, placeholder) {
		t.Fatalf("the elisp block of docs/editors.md does not load %s:\n%s", placeholder, block)
	}
	return strings.ReplaceAll(block, placeholder, dir)
}

// checkGolden compares what Emacs showed (without timings and versions)
// with testdata/emacs.golden.
func checkGolden(t *testing.T, res result, name string) {
	t.Helper()
	type config struct {
		File, Mode  string
		Diagnostics []diagnostic
		Hover       hover
	}
	view := struct {
		Configs     []config
		Other       any
		LanguageIDs []string
	}{LanguageIDs: res.LanguageIDs}
	// package.json's own mode depends on the Emacs version (js-mode in
	// 28, js-json-mode in 29): the assertions above check it.
	other := res.Other
	other.Mode = ""
	view.Other = other
	for _, c := range res.Configs {
		view.Configs = append(view.Configs, config{c.File, c.Mode, c.Diagnostics, c.Hover})
	}
	got, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("what Emacs shows differs from %s (run with -update after checking):\n%s", golden, got)
	}
}
