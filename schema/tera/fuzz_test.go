package tera

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRender checks that no input makes Render panic or hang, that errors
// are *Error with a span inside the source, and that source maps hold.
func FuzzRender(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "render", "*.tera"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		`{{ get_env(name="TARGET", default="pod/fallback") }}`,
		`{% for x in range(end=3) %}{{ loop.index }}{% if x == 1 %}{% break %}{% endif %}{% endfor %}`,
		`{% set_global a = [1, 2] | concat(with=3) %}{{ a | json_encode | safe }}`,
		`{%- raw -%}{{ x }}{%- endraw -%}`,
		`{% filter upper %}{{ key ~ "x" | lower }}{% endfilter %}`,
		`{{ git_branch | default(value='main') | replace(from="/", to="-") | slugify }}`,
		`{% if a is not defined and not b or c in [1] %}x{% elif 1 < 2 %}y{% else %}z{% endif %}`,
		`{# c #}{{ "a" ~ 1.5e3 }}{{ obj["k"].x[0] }}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out, err := Render(src, testContext())
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error", err)
			}
			if te.Start < 0 || te.End < te.Start || te.End > len(src) {
				t.Fatalf("error span [%d,%d) outside the source (len %d)", te.Start, te.End, len(src))
			}
			return
		}
		checkMap(t, src, out)
	})
}

// BenchmarkRender renders the complete example config with a few tags
// (JSON), a YAML config with a loop and conditions, and the JSON config
// without template syntax (the fast path).
func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"complete.json.tera", "complete.yaml.tera"} {
		src, err := os.ReadFile(filepath.Join("testdata", "render", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			c := testContext()
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(string(src), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("plain", func(b *testing.B) {
		src, err := os.ReadFile(filepath.Join("testdata", "render", "complete.json.tera"))
		if err != nil {
			b.Fatal(err)
		}
		text := removeTags(string(src)) // the same config without template syntax
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Render(text, Context{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// removeTags replaces every "{{" by "((" so the text is not a template.
func removeTags(s string) string {
	b := []byte(s)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '{' && (b[i+1] == '{' || b[i+1] == '%' || b[i+1] == '#') {
			b[i] = '('
		}
	}
	return string(b)
}
