package markup

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestInline(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "just text", "just text"},
		{"strong", "**incoming**: `object`", "incoming: object"},
		{"emphasis", "*Deprecated.*", "Deprecated."},
		{"underscore emphasis", "_really_ off", "really off"},
		{"identifiers keep underscores", "env_file and MIRRORD_CONFIG_FILE", "env_file and MIRRORD_CONFIG_FILE"},
		{"snake in emphasis", "*use env_file*", "use env_file"},
		{"lone star", "a * b and 2*3", "a * b and 2*3"},
		{"list bullet stays", "* item", "* item"},
		{"code keeps its text", "Default: `\"read\"`", `Default: "read"`},
		{"code hides markup", "`**x**`", "**x**"},
		{"double backticks", "``a ` b``", "a ` b"},
		{"unclosed code", "a `b", "a `b"},
		{"link", "see [the docs](https://mirrord.dev/docs)", "see the docs (https://mirrord.dev/docs)"},
		{"link with title", `[docs](https://x.dev "Docs")`, "docs (https://x.dev)"},
		{"link to itself", "[https://x.dev](https://x.dev)", "https://x.dev"},
		{"link with code", "[`fs`](#fs)", "fs (#fs)"},
		{"image", "![logo](logo.png)", "logo"},
		{"autolink", "<https://x.dev>", "https://x.dev"},
		{"html stays", "a <br> b", "a <br> b"},
		{"not a link", "[a] b", "[a] b"},
		{"escapes", `\*not\* \_em\_`, "*not* _em_"},
		{"nested", "**the `mode`: [read](#r)**", "the mode: read (#r)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Inline(tc.in); got != tc.want {
				t.Errorf("Inline(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"paragraphs", "**fs**: `object`\n\nFile operations.\n", "fs: object\n\nFile operations."},
		{"heading", "## Target\ntext", "Target\ntext"},
		{"not a heading", "#hashtag", "#hashtag"},
		{"fence", "```json\n{\"a\": **1**}\n```\nafter", "{\"a\": **1**}\nafter"},
		{"tilde fence", "~~~\nx\n~~~", "x"},
		{"quote", "> **note**", "note"},
		{"table", "| pod | ready |\n|---|:---:|\n| `web-1` | yes |", "pod | ready\nweb-1 | yes"},
		{"rule stays", "a\n\n---\n\nb", "a\n\n---\n\nb"},
		{"crlf", "**a**\r\nb", "a\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainText(tc.in); got != tc.want {
				t.Errorf("PlainText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestPlainTextGolden converts a target hover as the server writes it.
func TestPlainTextGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "hover.md"))
	if err != nil {
		t.Fatal(err)
	}
	got := PlainText(string(in)) + "\n"
	golden := filepath.Join("testdata", "hover.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("PlainText(testdata/hover.md) =\n%s\nwant (testdata/hover.txt):\n%s", got, want)
	}
}
