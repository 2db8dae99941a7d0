package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

var quietOpts = Options{
	Path:      "mirrord.json",
	Env:       func(string) (string, bool) { return "", false },
	GitBranch: func() (string, bool) { return "main", true },
}

func verifyAs(path, text string) *Result {
	opts := quietOpts
	opts.Path = path
	return Verify(context.Background(), []byte(text), opts)
}

// nested returns a document nested depth levels deep (under feature.env)
// in the format of path, and the offset of the value that is one level
// too deep when depth > MaxNestingDepth.
func nested(path string, depth int) string {
	var b strings.Builder
	switch {
	case strings.HasSuffix(path, ".yaml"):
		b.WriteString("feature:\n  env:\n    x: ")
		b.WriteString(strings.Repeat("[", depth))
		b.WriteString(strings.Repeat("]", depth))
		b.WriteString("\n")
	case strings.HasSuffix(path, ".toml"):
		b.WriteString("[feature.env]\nx = ")
		b.WriteString(strings.Repeat("[", depth))
		b.WriteString(strings.Repeat("]", depth))
		b.WriteString("\n")
	default:
		b.WriteString(`{"feature": {"env": {"x": `)
		b.WriteString(strings.Repeat("[", depth))
		b.WriteString(strings.Repeat("]", depth))
		b.WriteString("}}}")
	}
	return b.String()
}

// TestNestingLimit: a document nested past MaxNestingDepth is one syntax
// error, placed on the first value past the limit, in every format; a
// document nested 100,000 deep is refused as fast.
func TestNestingLimit(t *testing.T) {
	for _, tc := range []struct {
		path   string
		prefix string // the text before the outermost '['
		levels int    // nesting levels before the '[' (feature, env)
	}{
		{"m.json", `{"feature": {"env": {"x": `, 3},
		{"m.yaml", "feature:\n  env:\n    x: ", 3},
		{"m.toml", "[feature.env]\nx = ", 3},
	} {
		for _, depth := range []int{MaxNestingDepth - tc.levels, MaxNestingDepth + 1, 100_000} {
			t.Run(fmt.Sprintf("%s/%d", tc.path, depth), func(t *testing.T) {
				text := nested(tc.path, depth)
				res := verifyAs(tc.path, text)
				errs := res.Errors()
				if depth <= MaxNestingDepth-tc.levels {
					for _, d := range res.Diagnostics {
						if d.Code == "SYNTAX" {
							t.Fatalf("depth %d refused: %s", depth, d.Message)
						}
					}
					return
				}
				if len(errs) != 1 || res.Diagnostics[0].Code != "SYNTAX" {
					t.Fatalf("diagnostics %+v, want one syntax error", res.Diagnostics)
				}
				d := res.Diagnostics[0]
				if depth > 10_000 && tc.path != "m.json" {
					// yaml.v3 and go-toml stop at 10,000 levels themselves,
					// before our tree is built, with their own message and
					// place (the start of the value).
					if !strings.Contains(d.Message, "depth") && !strings.Contains(d.Message, "nested") {
						t.Errorf("message %q does not say why", d.Message)
					}
					return
				}
				if !strings.Contains(d.Message, "nested more than 256 levels") {
					t.Errorf("message %q does not name the limit", d.Message)
				}
				// The offending '[': the one that opens level 257.
				want := len(tc.prefix) + MaxNestingDepth - tc.levels + 1
				if tc.path == "m.toml" {
					// go-toml's tree has no span below the key: the
					// finding is on the deepest value it knows, the key's.
					want = d.Range.Start.Offset
				}
				if d.Range.Start.Offset != want || d.Range.Start.Line != strings.Count(text[:want], "\n") {
					t.Errorf("error at %+v, want offset %d", d.Range.Start, want)
				}
			})
		}
	}
}

// TestSizeLimit: a config above MaxDocumentBytes is one error at the first
// byte past the limit, at once.
func TestSizeLimit(t *testing.T) {
	line := `  "skip_processes": ["` + strings.Repeat("a", 100) + `"],` + "\n"
	text := "{\n" + strings.Repeat(line, MaxDocumentBytes/len(line)+10) + "}"
	res := verifyAs("m.json", text)
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Code != "TOO-LARGE" {
		t.Fatalf("diagnostics %+v, want TOO-LARGE", res.Diagnostics)
	}
	d := res.Diagnostics[0]
	if d.Range.Start.Offset != MaxDocumentBytes || d.Range.Start.Line != strings.Count(text[:MaxDocumentBytes], "\n") {
		t.Errorf("at %+v, want offset %d", d.Range.Start, MaxDocumentBytes)
	}
	if !strings.Contains(d.Message, "10 MiB") {
		t.Errorf("message %q", d.Message)
	}
	if res := verifyAs("m.json", `{"skip_processes": ["`+strings.Repeat("a", MaxDocumentBytes-40)+`"]}`); res.HasErrors() {
		t.Errorf("a config just under the limit: %+v", res.Errors())
	}
}

// bigDocs are configs with one large array or object, n entries.
func bigDocs(n int) map[string][2]string {
	var arrJSON, mapJSON, arrYAML, mapYAML, arrTOML, mapTOML strings.Builder
	arrJSON.WriteString(`{"skip_processes": [`)
	mapJSON.WriteString(`{"feature": {"env": {"override": {`)
	arrYAML.WriteString("skip_processes:\n")
	mapYAML.WriteString("feature:\n  env:\n    override:\n")
	arrTOML.WriteString("skip_processes = [\n")
	mapTOML.WriteString("[feature.env.override]\n")
	for i := range n {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&arrJSON, `%s"proc-%07d"`, sep, i)
		fmt.Fprintf(&mapJSON, `%s"K%07d": "v"`, sep, i)
		fmt.Fprintf(&arrYAML, "  - proc-%07d\n", i)
		fmt.Fprintf(&mapYAML, "      K%07d: v\n", i)
		fmt.Fprintf(&arrTOML, "  \"proc-%07d\",\n", i)
		fmt.Fprintf(&mapTOML, "K%07d = \"v\"\n", i)
	}
	arrJSON.WriteString(`]}`)
	mapJSON.WriteString(`}}}}`)
	arrTOML.WriteString("]\n")
	return map[string][2]string{
		"json array": {"m.json", arrJSON.String()},
		"json map":   {"m.json", mapJSON.String()},
		"yaml array": {"m.yaml", arrYAML.String()},
		"yaml map":   {"m.yaml", mapYAML.String()},
		"toml array": {"m.toml", arrTOML.String()},
		"toml map":   {"m.toml", mapTOML.String()},
	}
}

// TestLargeCollectionsVerify: 40,000-entry arrays and objects verify
// without errors. Their speed is BenchmarkVerifyLarge's to show (an object
// of 40,000 keys took 2 s in JSON and 3.4 s in YAML before duplicate keys
// were found with a set), never a timed assert. TOML objects are refused
// beyond maxTOMLTableKeys (TestTOMLTableKeys): go-toml's own duplicate-key
// tracker is quadratic in the keys of one table (2.4 s for 40,000).
func TestLargeCollectionsVerify(t *testing.T) {
	for name, doc := range bigDocs(40_000) {
		if name == "toml map" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t0 := time.Now()
			res := verifyAs(doc[0], doc[1])
			took := time.Since(t0)
			t.Logf("%d bytes: %v", len(doc[1]), took)
			if res.HasErrors() {
				t.Fatalf("errors: %+v", res.Errors()[:1])
			}
		})
	}
}

// BenchmarkVerifyLarge: 1 MB configs of one large array or object
// (~70,000 entries; YAML maps 45,000, under the alias-expansion bound of
// 100,000 values; TOML tables 10,000 keys, their bound).
func BenchmarkVerifyLarge(b *testing.B) {
	for _, name := range []string{"json array", "json map", "yaml array", "yaml map", "toml array", "toml map"} {
		n := 70_000
		switch name {
		case "yaml map":
			n = 45_000
		case "toml map":
			n = maxTOMLTableKeys
		}
		doc := bigDocs(n)[name]
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(doc[1])))
			b.ReportAllocs()
			for b.Loop() {
				if res := verifyAs(doc[0], doc[1]); res.HasErrors() {
					b.Fatal(res.Errors()[0])
				}
			}
		})
	}
}

// TestTOMLTableKeys: a TOML table (or inline table) of more than
// maxTOMLTableKeys keys is one syntax error on the first key past the
// limit, found before go-toml's quadratic check; the limit itself passes.
func TestTOMLTableKeys(t *testing.T) {
	table := func(n int) string {
		var b strings.Builder
		b.WriteString("[feature.env.override]\n")
		for i := range n {
			fmt.Fprintf(&b, "K%07d = \"v\"\n", i)
		}
		return b.String()
	}
	inline := func(n int) string {
		var b strings.Builder
		b.WriteString("[feature.env]\noverride = {")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "K%07d = \"v\"", i)
		}
		b.WriteString("}\n")
		return b.String()
	}
	for name, make := range map[string]func(int) string{"table": table, "inline": inline} {
		t.Run(name, func(t *testing.T) {
			if res := verifyAs("m.toml", make(maxTOMLTableKeys)); res.HasErrors() {
				t.Fatalf("at the limit: %+v", res.Errors()[0])
			}
			text := make(50_000)
			res := verifyAs("m.toml", text)
			if len(res.Diagnostics) != 1 || res.Diagnostics[0].Code != "SYNTAX" {
				t.Fatalf("diagnostics %+v", res.Diagnostics)
			}
			d := res.Diagnostics[0]
			key := fmt.Sprintf("K%07d", maxTOMLTableKeys)
			if got := text[d.Range.Start.Offset:d.Range.End.Offset]; got != key || !strings.Contains(d.Message, "10000 keys") {
				t.Errorf("error on %q: %s; want on %s", got, d.Message, key)
			}
		})
	}
}
