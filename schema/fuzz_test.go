package schema

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// seedCorpus adds every corpus config of the given formats to a fuzz target.
func seedCorpus(f *testing.F, exts ...string) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, ext := range exts {
			files, _ := filepath.Glob(filepath.Join(corpusDir, dir, "*"+ext))
			for _, p := range files {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(string(b))
				}
			}
		}
	}
}

// checkSpans asserts that every span of a tree lies inside the text.
func checkSpans(t *testing.T, n *Node, size int) {
	t.Helper()
	if n.Start < 0 || n.End < n.Start || n.End > size {
		t.Fatalf("node span [%d,%d) outside [0,%d)", n.Start, n.End, size)
	}
	for _, m := range n.Members {
		if m.KeyStart < 0 || m.KeyEnd < m.KeyStart || m.KeyEnd > size {
			t.Fatalf("key %q span [%d,%d) outside [0,%d)", m.Key, m.KeyStart, m.KeyEnd, size)
		}
		checkSpans(t, m.Value, size)
	}
	for _, it := range n.Items {
		checkSpans(t, it, size)
	}
}

// FuzzParseJSON: the scanner never panics, keeps spans in the text and
// accepts only what encoding/json accepts.
func FuzzParseJSON(f *testing.F) {
	seedCorpus(f, ".json")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseJSON(s)
		if err != nil {
			return
		}
		checkSpans(t, n, len(s))
		if !json.Valid([]byte(s)) {
			t.Fatalf("parseJSON accepted invalid JSON %q", s)
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	seedCorpus(f, ".yaml")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseYAML(s); err == nil {
			checkSpans(t, n, len(s))
		}
	})
}

func FuzzParseTOML(f *testing.F) {
	seedCorpus(f, ".toml")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseTOML(s); err == nil {
			checkSpans(t, n, len(s))
		}
	})
}

// FuzzVerify runs the whole pipeline (template rendering, parsing, schema
// and semantic validation) and checks that every diagnostic has a range
// inside the original text.
func FuzzVerify(f *testing.F) {
	for _, ext := range []string{".json", ".yaml", ".toml"} {
		for _, dir := range []string{"valid", "invalid"} {
			files, _ := filepath.Glob(filepath.Join(corpusDir, dir, "*"+ext))
			for _, p := range files {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(string(b), ext)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, s, ext string) {
		opts := Options{
			Path:      "fuzz" + ext,
			Env:       func(string) (string, bool) { return "", false },
			GitBranch: func() (string, bool) { return "main", true },
		}
		res := Verify(context.Background(), []byte(s), opts)
		for _, d := range res.Diagnostics {
			r := d.Range
			if r.Start.Offset < 0 || r.End.Offset < r.Start.Offset || r.End.Offset > len(s) {
				t.Fatalf("diagnostic %q has range [%d,%d) outside the text of %d bytes", d.Message, r.Start.Offset, r.End.Offset, len(s))
			}
			if d.Message == "" {
				t.Fatalf("diagnostic without a message: %+v", d)
			}
		}
		if res.HasErrors() == (res.Config != nil) {
			t.Fatalf("errors=%v but config=%v", res.HasErrors(), res.Config != nil)
		}
	})
}

// FuzzParseHostPort: agent.address never panics, and what it accepts
// renders back to an address it accepts again, unchanged.
func FuzzParseHostPort(f *testing.F) {
	for _, s := range []string{"127.0.0.1:61337", "[::1]:80", "agent.svc:1", "h:0", "::1:80", "[fe80::1%eth0]:1", "a..b:2", "x:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := ParseHostPort(s)
		if err != nil {
			return
		}
		if hp.Port == 0 {
			t.Fatalf("%q: accepted port 0", s)
		}
		again, err := ParseHostPort(hp.String())
		if err != nil || again != hp {
			t.Fatalf("%q → %q → %+v, %v", s, hp.String(), again, err)
		}
	})
}
