package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.lsp.dev/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCases are documents with a cursor (¦) whose completion list is
// recorded in testdata/completion.golden. The lists follow the config
// schema and the template docs: when those change on purpose, regenerate
// with `go test ./server -run Golden -update` and review the diff.
var goldenCases = []struct{ file, text string }{
	{"mirrord.json", `{"feature": {"fs": {"mo¦`},
	{"mirrord.json", `{"feature": {"network": {"incoming": "¦"}}}`},
	{"mirrord.json", `{"target": {"¦"}}`},
	{"mirrord.json", "{\n  \"feature\": {\n    \"network\": {\n      \"incoming\": {\n        \"mode\": \"steal\",\n        \"http_filter\": {\n          ¦\n        }\n      }\n    }\n  }\n}"},
	{"mirrord.json", `{"key": "{{ git_branch | def¦ }}"}`},
	{".mirrord/a.yaml", "feature:\n  fs: ¦"},
	{".mirrord/a.yaml", "feature:\n  network:\n    incoming:\n      mode: steal\n      ¦"},
	{".mirrord/a.yaml", "agent:\n  log_level: ¦"},
	{".mirrord/a.toml", "[feature.network]\nincoming = { mode = \"¦\" }"},
	{".mirrord/a.toml", "[feature.fs]\nmo¦"},
}

func TestCompletionGolden(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	var out strings.Builder
	for i, tc := range goldenCases {
		off := strings.Index(tc.text, "¦")
		text := tc.text[:off] + tc.text[off+len("¦"):]
		uri := c.open(filepath.Join(dir, fmt.Sprint(i)), tc.file, text)
		line := uint32(strings.Count(text[:off], "\n"))
		col := uint32(len([]rune(text[strings.LastIndex(text[:off], "\n")+1 : off])))
		var list protocol.CompletionList
		c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: line, Character: col}}}, &list)
		fmt.Fprintf(&out, "== %s %q\n", tc.file, tc.text)
		for _, it := range list.Items {
			r := it.TextEdit.Range
			fmt.Fprintf(&out, "%-24s %-8s %d:%d-%d:%d %q\n", it.Label, kindName(it.Kind), r.Start.Line, r.Start.Character, r.End.Line, r.End.Character, it.TextEdit.NewText)
		}
	}
	golden := filepath.Join("testdata", "completion.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./server -run Golden -update)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("completion differs from %s (run with -update if intended):\n%s", golden, lineDiff(string(want), got))
	}
}

func kindName(k protocol.CompletionItemKind) string {
	switch k {
	case protocol.CompletionItemKindProperty:
		return "property"
	case protocol.CompletionItemKindEnumMember:
		return "enum"
	case protocol.CompletionItemKindKeyword:
		return "keyword"
	case protocol.CompletionItemKindSnippet:
		return "snippet"
	case protocol.CompletionItemKindFunction:
		return "function"
	case protocol.CompletionItemKindVariable:
		return "variable"
	case protocol.CompletionItemKindValue:
		return "value"
	case protocol.CompletionItemKindReference:
		return "ref"
	}
	return fmt.Sprint(int(k))
}

// lineDiff lists the lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d\n  want: %s\n  got:  %s\n", i+1, a, c)
		}
	}
	return b.String()
}
