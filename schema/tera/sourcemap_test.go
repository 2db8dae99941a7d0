package tera

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkMap checks the source map of a render against its properties:
// segments tile the output; every byte copied from literal text maps to the
// same byte of the source; every byte printed by a tag maps into the tag.
func checkMap(t testing.TB, src string, out *Output) {
	t.Helper()
	m := out.Map
	if m == nil {
		t.Fatal("nil source map")
	}
	if m.ident {
		if out.Text != src {
			t.Fatalf("identity map but the text changed")
		}
		return
	}
	next := 0
	for _, s := range m.segs {
		if s.out != next || s.n <= 0 {
			t.Fatalf("segments do not tile the output: %+v at %d", s, next)
		}
		next = s.out + s.n
	}
	if next != len(out.Text) {
		t.Fatalf("segments cover %d bytes of %d", next, len(out.Text))
	}
	for o := 0; o < len(out.Text); o++ {
		seg := m.find(o)
		so := m.ToSource(o)
		if so < 0 || so > len(src) {
			t.Fatalf("ToSource(%d) = %d, outside the source", o, so)
		}
		if seg.literal {
			if src[so] != out.Text[o] {
				t.Fatalf("literal byte %d %q maps to source byte %d %q", o, out.Text[o], so, src[so])
			}
			continue
		}
		s, e := m.ToSourceRange(o, o+1)
		tag := src[s:e]
		if !(strings.HasPrefix(tag, "{{") && strings.HasSuffix(tag, "}}")) && !strings.HasPrefix(tag, "{%") {
			t.Fatalf("printed byte %d maps to %q, not to a tag", o, tag)
		}
	}
	if got := m.ToSource(len(out.Text)); got != len(src) {
		t.Fatalf("ToSource(end) = %d, want %d", got, len(src))
	}
}

func TestSourceMapIdentityForLiteralText(t *testing.T) {
	for _, src := range []string{"", "abc", `{"target": "pod/x"}`, "line1\nline2\n", "ünïcödé {x}"} {
		out, err := Render(src, Context{})
		if err != nil {
			t.Fatal(err)
		}
		for o := 0; o <= len(src); o++ {
			if got := out.Map.ToSource(o); got != o {
				t.Errorf("%q: ToSource(%d) = %d", src, o, got)
			}
		}
		if s, e := out.Map.ToSourceRange(1, 3); len(src) >= 3 && (s != 1 || e != 3) {
			t.Errorf("%q: ToSourceRange(1,3) = %d,%d", src, s, e)
		}
	}
	// Text that is a template but whose output is all literal text (a
	// comment removed at the end) still maps byte for byte before it.
	src := "abc\ndef{# gone #}"
	out, err := Render(src, Context{})
	if err != nil {
		t.Fatal(err)
	}
	for o := 0; o < len(out.Text); o++ {
		if got := out.Map.ToSource(o); got != o {
			t.Errorf("ToSource(%d) = %d", o, got)
		}
	}
}

func TestSourceMapShiftsAfterTags(t *testing.T) {
	src := `{"key": "{{ key }}", "target": "{{ get_env(name="TARGET", default="x") }}", "port": 80}`
	out, err := Render(src, testContext())
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, src, out)
	// "port" after two rendered tags maps to "port" in the source.
	ro := strings.Index(out.Text, `"port"`)
	so := strings.Index(src, `"port"`)
	if got := out.Map.ToSource(ro); got != so {
		t.Errorf("ToSource(%d) = %d, want %d", ro, got, so)
	}
	if s, e := out.Map.ToSourceRange(ro, ro+6); s != so || e != so+6 {
		t.Errorf("ToSourceRange = %d,%d want %d,%d", s, e, so, so+6)
	}
	// A span inside the printed value of get_env maps to the whole tag.
	vo := strings.Index(out.Text, "deploy/api")
	tagStart := strings.Index(src, `{{ get_env`)
	tagEnd := strings.Index(src, `) }}`) + 4
	if s, e := out.Map.ToSourceRange(vo+1, vo+3); s != tagStart || e != tagEnd {
		t.Errorf("ToSourceRange inside a value = %d,%d (%q), want the tag %d,%d", s, e, src[s:e], tagStart, tagEnd)
	}
	// The quoted string value spans literal quote, value, literal quote.
	s, e := out.Map.ToSourceRange(vo-1, vo+len("deploy/api")+1)
	if src[s:e] != `"{{ get_env(name="TARGET", default="x") }}"` {
		t.Errorf("quoted value maps to %q", src[s:e])
	}
	// An empty span maps to a point.
	if s, e := out.Map.ToSourceRange(ro, ro); s != so || e != so {
		t.Errorf("empty span maps to %d,%d", s, e)
	}
}

func TestSourceMapLoops(t *testing.T) {
	src := "items:\n{% for x in list %}- {{ x }}\n{% endfor %}end"
	out, err := Render(src, testContext())
	if err != nil {
		t.Fatal(err)
	}
	if out.Text != "items:\n- a\n- b\n- c\nend" {
		t.Fatalf("got %q", out.Text)
	}
	checkMap(t, src, out)
	// Every repeated "- " maps to the one "- " in the loop body.
	body := strings.Index(src, "- ")
	for o := 0; o < len(out.Text); o++ {
		if out.Text[o] == '-' {
			if got := out.Map.ToSource(o); got != body {
				t.Errorf("ToSource(%d) = %d, want %d", o, got, body)
			}
		}
	}
	end := strings.Index(out.Text, "end")
	if got := out.Map.ToSource(end); got != strings.LastIndex(src, "end") {
		t.Errorf("end maps to %d", got)
	}
}

// TestSourceMapRandom renders random mixtures of literal text and tags and
// checks the map properties on each.
func TestSourceMapRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{
		"abc", " ", "\n", "{", "}", "é", `"q"`, "{{ key }}", "{{- key -}}", "{{ num + 1 }}",
		"{% if true %}T{% endif %}", "{%- if false -%}F{%- else -%}E{%- endif -%}",
		"{% for x in list %}<{{ x }}>{% endfor %}", "{# c #}", "{% raw %}{{r}}{% endraw %}",
		"{% filter upper %}up{{ key }}{% endfilter %}", "{{ git_branch | default(value='') }}",
	}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := r.IntN(10); n >= 0; n-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		src := b.String()
		out, err := Render(src, testContext())
		if err != nil {
			// "{" followed by a tag-looking part may form a tag; that
			// is fine as long as it is a clean error.
			continue
		}
		checkMap(t, src, out)
	}
}
