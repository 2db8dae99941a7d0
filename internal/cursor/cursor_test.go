package cursor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// In the cases, "¦" marks the cursor.
func TestFind(t *testing.T) {
	for _, tc := range findCases {
		t.Run(tc.name, func(t *testing.T) { checkFind(t, tc) })
	}
}

type findCase struct {
	name     string
	format   Format
	text     string
	kind     Kind
	pointer  string
	prefix   string
	span     string // the text the token spans
	siblings []string
	hasSep   bool
	inFilter bool
}

var findCases = []findCase{
	{name: "json partial key at depth", format: JSON, text: `{"feature": {"fs": {"mo¦`, kind: Key, pointer: "/feature/fs", prefix: "mo", span: `"mo`},
	{name: "json empty object", format: JSON, text: `{"feature": {¦}}`, kind: Key, pointer: "/feature", span: ``},
	{name: "json root key", format: JSON, text: "{\n  \"ta¦\"\n}", kind: Key, pointer: "", prefix: "ta", span: `"ta"`},
	{name: "json key with colon", format: JSON, text: `{"tar¦get": "x"}`, kind: Key, pointer: "", prefix: "tar", span: `"target"`, hasSep: true},
	{name: "json siblings", format: JSON, text: `{"a": 1, ¦, "b": {"c": 2}, "d": 3}`, kind: Key, siblings: []string{"a", "b", "d"}},
	{name: "json value after colon", format: JSON, text: `{"feature": {"fs": {"mode": ¦}}}`, kind: Value, pointer: "/feature/fs/mode"},
	{name: "json value in string", format: JSON, text: `{"feature": {"fs": {"mode": "re¦ad"}}}`, kind: Value, pointer: "/feature/fs/mode", prefix: "re", span: `"read"`},
	{name: "json bare value", format: JSON, text: `{"feature": {"env": tr¦`, kind: Value, pointer: "/feature/env", prefix: "tr", span: `tr`},
	{name: "json array element", format: JSON, text: `{"a": {"ports": [80, ¦]}}`, kind: Value, pointer: "/a/ports/1"},
	{name: "json object in array", format: JSON, text: `{"l": [{"x": 1}, {"¦`, kind: Key, pointer: "/l/1", span: `"`},
	{name: "json new line without comma", format: JSON, text: "{\"a\": 1\n  ¦\n}", kind: Key, pointer: ""},
	{name: "json after value", format: JSON, text: `{"a": 1 ¦}`, kind: Nothing},
	{name: "json template function", format: JSON, text: `{"key": "{{ get_e¦"}`, kind: Template, prefix: "get_e", span: "get_e"},
	{name: "json template filter", format: JSON, text: `{"key": "{{ git_branch | def¦}}"}`, kind: Template, prefix: "def", span: "def", inFilter: true},
	{name: "json after template block", format: JSON, text: `{"key": "{{ x }}", "¦`, kind: Key, pointer: "", span: `"`},
	{name: "json template outside strings", format: JSON, text: "{% if true %}{\"feature\": {¦}}{% endif %}", kind: Key, pointer: "/feature"},
	{name: "jsonc comment", format: JSON, text: "{ // a comment \"x\n \"fe¦", kind: Key, pointer: "", prefix: "fe", span: `"fe`},

	{name: "yaml nested key", format: YAML, text: "feature:\n  fs:\n    mo¦", kind: Key, pointer: "/feature/fs", prefix: "mo", span: "mo"},
	{name: "yaml blank line key", format: YAML, text: "feature:\n  env: true\n  ¦", kind: Key, pointer: "/feature", siblings: []string{"env"}},
	{name: "yaml dedent", format: YAML, text: "feature:\n  env: true\n¦", kind: Key, pointer: "", siblings: []string{"feature"}},
	{name: "yaml value", format: YAML, text: "feature:\n  fs:\n    mode: re¦", kind: Value, pointer: "/feature/fs/mode", prefix: "re", span: "re"},
	{name: "yaml quoted value", format: YAML, text: "feature:\n  fs: \"wr¦\"", kind: Value, pointer: "/feature/fs", prefix: "wr", span: `"wr"`},
	{name: "yaml empty value", format: YAML, text: "feature:\n  env: ¦", kind: Value, pointer: "/feature/env"},
	{name: "yaml sequence item key", format: YAML, text: "feature:\n  network:\n    incoming:\n      http_filter:\n        ports:\n        - 80\n        - ¦", kind: Value, pointer: "/feature/network/incoming/http_filter/ports/1"},
	{name: "yaml object item", format: YAML, text: "list:\n  - name: a\n    va¦", kind: Key, pointer: "/list/0", prefix: "va", span: "va", siblings: []string{"name"}},
	{name: "yaml key with colon", format: YAML, text: "tar¦get: x", kind: Key, pointer: "", prefix: "tar", span: "target", hasSep: true},
	{name: "yaml flow value", format: YAML, text: "feature:\n  fs: {mo¦", kind: Key, pointer: "/feature/fs", prefix: "mo", span: "mo"},
	{name: "yaml siblings below", format: YAML, text: "feature:\n  ¦\n  env: true\n  fs: read\ntarget: x", kind: Key, pointer: "/feature", siblings: []string{"env", "fs"}},
	{name: "yaml comment", format: YAML, text: "# fe¦", kind: Nothing},

	{name: "toml dotted key", format: TOML, text: "[feature]\nfs.mo¦", kind: Key, pointer: "/feature/fs", prefix: "mo", span: "mo"},
	{name: "toml table header", format: TOML, text: "[feature.f¦]", kind: Key, pointer: "/feature", prefix: "f", span: "f", hasSep: false},
	{name: "toml value", format: TOML, text: "[feature.fs]\nmode = \"re¦\"", kind: Value, pointer: "/feature/fs/mode", prefix: "re", span: `"re"`},
	{name: "toml empty value", format: TOML, text: "[feature]\nenv = ¦", kind: Value, pointer: "/feature/env"},
	{name: "toml inline table", format: TOML, text: "[feature]\nfs = { mode = \"read\", re¦", kind: Key, pointer: "/feature/fs", prefix: "re", span: "re", siblings: []string{"mode"}},
	{name: "toml root key", format: TOML, text: "tar¦\n[feature]\nenv = true", kind: Key, pointer: "", prefix: "tar", span: "tar"},
	{name: "toml siblings", format: TOML, text: "[feature]\nenv = true\n¦\nfs = \"read\"\n[target]\npath = \"x\"", kind: Key, pointer: "/feature", siblings: []string{"env", "fs"}},
	{name: "toml multiline array", format: TOML, text: "[feature.network.incoming]\nports = [\n  80,\n  ¦", kind: Value, pointer: "/feature/network/incoming/ports/1"},
	{name: "toml array of tables", format: TOML, text: "[[list]]\na = 1\n[[list]]\nb¦", kind: Key, pointer: "/list/1", prefix: "b", span: "b"},
}

func checkFind(t *testing.T, tc findCase) {
	t.Helper()
	off := strings.Index(tc.text, "¦")
	text := tc.text[:off] + tc.text[off+len("¦"):]
	got := Find(text, off, tc.format)
	if got.Kind != tc.kind {
		t.Fatalf("kind = %v, want %v (%+v)", got.Kind, tc.kind, got)
	}
	if tc.kind == Nothing {
		return
	}
	if tc.kind != Template {
		if p := Pointer(got.Path); p != tc.pointer {
			t.Errorf("pointer = %q, want %q", p, tc.pointer)
		}
	}
	if got.Prefix != tc.prefix {
		t.Errorf("prefix = %q, want %q", got.Prefix, tc.prefix)
	}
	if tc.span != "" || got.Start != got.End {
		if got.Start < 0 || got.End > len(text) || got.Start > got.End {
			t.Fatalf("bad span %d..%d", got.Start, got.End)
		}
		if span := text[got.Start:got.End]; span != tc.span {
			t.Errorf("span = %q, want %q", span, tc.span)
		}
	}
	if tc.siblings != nil && !reflect.DeepEqual(got.Siblings, tc.siblings) {
		t.Errorf("siblings = %q, want %q", got.Siblings, tc.siblings)
	}
	if got.HasSeparator != tc.hasSep {
		t.Errorf("hasSeparator = %v, want %v", got.HasSeparator, tc.hasSep)
	}
	if got.InFilter != tc.inFilter {
		t.Errorf("inFilter = %v, want %v", got.InFilter, tc.inFilter)
	}
}

// FuzzFind: any text and offset give a context with a sane span, and no
// panic.
func FuzzFind(f *testing.F) {
	for _, seed := range []string{
		`{"feature": {"fs": {"mo`, "feature:\n  fs:\n    mode: re", "[feature]\nfs = { mode = \"read\", re",
		`{"key": "{{ get_env(name='X') | def`, "- - a: [1, {b: ", "[[a.b]]\nc.\"d\" = [\n1,\n",
	} {
		for f2 := range 3 {
			f.Add(seed, len(seed)/2, f2)
		}
	}
	for _, dir := range []string{"../../testdata/configs/valid", "testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(string(b), len(b)/3, 0)
			}
		}
	}
	f.Fuzz(func(t *testing.T, text string, off int, format int) {
		fm := Format(((format % 3) + 3) % 3)
		ctx := Find(text, off, fm)
		if ctx.Kind == Nothing {
			return
		}
		if ctx.Start < 0 || ctx.End > len(text) || ctx.Start > ctx.End {
			t.Fatalf("span %d..%d outside text of %d bytes (%+v)", ctx.Start, ctx.End, len(text), ctx)
		}
		off = min(max(off, 0), len(text))
		if !strings.Contains(text, "\r") && (off < ctx.Start || off > ctx.End) {
			t.Fatalf("span %d..%d does not hold the cursor %d (%+v)", ctx.Start, ctx.End, off, ctx)
		}
	})
}
