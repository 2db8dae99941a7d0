package tera

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testEnv is the environment get_env sees in tests.
var testEnv = map[string]string{
	"TARGET":    "deploy/api",
	"NAMESPACE": "Staging",
	"EMPTY":     "",
}

func testContext() Context {
	return Context{
		Vars: map[string]any{
			"key":     "mirrord-test-key",
			"num":     3,
			"list":    []string{"a", "b", "c"},
			"nums":    []any{3, 1, 2},
			"obj":     map[string]any{"name": "api", "port": 8080, "tags": []any{"x", "y"}, "nil": nil},
			"users":   []any{map[string]any{"name": "Ann", "team": "a"}, map[string]any{"name": "Bob", "team": "b"}, map[string]any{"name": "Cid", "team": "a"}},
			"nothing": nil,
			"html":    `<b>"x" & 'y'</b>`,
		},
		LookupEnv: func(name string) (string, bool) {
			v, ok := testEnv[name]
			return v, ok
		},
	}
}

func withBranch(c Context, branch string) Context {
	vars := make(map[string]any, len(c.Vars)+1)
	for k, v := range c.Vars {
		vars[k] = v
	}
	vars["git_branch"] = branch
	c.Vars = vars
	return c
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, src, want string
		branch          string // when set, git_branch is defined
	}{
		// The documented mirrord examples.
		{"doc get_env default", `"target": "{{ get_env(name="TARGET_X", default="pod/fallback") }}"`, `"target": "pod/fallback"`, ""},
		{"doc get_env set", `"target": "{{ get_env(name="TARGET", default="pod/fallback") }}"`, `"target": "deploy/api"`, ""},
		{"doc key", `"key": "{{ key }}"`, `"key": "mirrord-test-key"`, ""},
		{"doc git_branch", `"key": "{{ git_branch }}"`, `"key": "feature/x"`, "feature/x"},
		{"doc git_branch default missing", `{{ git_branch | default(value='main') }}`, `main`, ""},
		{"doc git_branch default present", `{{ git_branch | default(value='main') }}`, `dev`, "dev"},

		// Literals and printing.
		{"no tags", `plain {text} }} %}`, `plain {text} }} %}`, ""},
		{"strings", `{{ "a" }}{{ 'b' }}{{ ` + "`c`" + ` }}`, `abc`, ""},
		{"quotes inside strings", `{{ "it's" }} {{ '"q"' }} {{ "}}" }}`, `it's "q" }}`, ""},
		{"no escapes in strings", `{{ "a\n" }}`, `a\n`, ""},
		{"ints", `{{ 42 }} {{ -7 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 % 3 }}`, `42 -7 7 9 1`, ""},
		{"floats", `{{ 1.5 }} {{ 4 / 2 }} {{ 1 / 4 }} {{ 2.0 * 3 }} {{ 1e20 * 1.0 }}`, `1.5 2.0 0.25 6.0 1e20`, ""},
		{"bools", `{{ true }} {{ False }} {{ not true }}`, `true false false`, ""},
		{"null prints empty", `[{{ nothing }}]`, `[]`, ""},
		{"arrays", `{{ [1, "a", true, [2]] }} {{ list }}`, `[1, a, true, [2]] [a, b, c]`, ""},
		{"objects", `{{ obj }}`, `[object]`, ""},
		{"no autoescape", `{{ html }}`, `<b>"x" & 'y'</b>`, ""},
		{"attribute and index", `{{ obj.name }} {{ obj["port"] }} {{ list[1] }} {{ list.2 }} {{ obj.tags[0] }} {{ users[1].name }}`, `api 8080 b c x Bob`, ""},
		{"dynamic index", `{% set i = 2 %}{{ list[i] }} {{ obj["na" ~ "me"] }}`, `c api`, ""},
		{"concat", `{{ "v" ~ 1 ~ "-" ~ key }} {{ "v" ~ 1 + 2 }}`, `v1-mirrord-test-key v3`, ""},
		{"concat float", `{{ "x" ~ 0.5 }}`, `x0.5`, ""},

		// Functions.
		{"get_env plain", `{{ get_env(name="NAMESPACE") }}`, `Staging`, ""},
		{"get_env empty value is set", `[{{ get_env(name="EMPTY", default="d") }}]`, `[]`, ""},
		{"get_env default any type", `{{ get_env(name="NOPE", default=5) + 1 }} {{ get_env(name="NOPE", default=[1,2]) | length }}`, `6 2`, ""},
		{"get_env default from variable", `{{ get_env(name="NOPE", default=key) }}`, `mirrord-test-key`, ""},
		{"range", `{{ range(end=3) }} {{ range(start=1, end=10, step_by=4) }} {{ range(end=0) }}`, `[0, 1, 2] [1, 5, 9] []`, ""},

		// Filters.
		{"case", `{{ "Hi" | upper }} {{ "Hi" | lower }} {{ "hELLO wORLD" | capitalize }} {{ "hello big-world o'neil" | title }}`, `HI hi Hello world Hello Big-World O'neil`, ""},
		{"trim", `[{{ "  a  " | trim }}][{{ "  a  " | trim_start }}][{{ "  a  " | trim_end }}]`, `[a][a  ][  a]`, ""},
		{"trim matches", `{{ "xxaxx" | trim_start_matches(pat="x") }} {{ "xxaxx" | trim_end_matches(pat="x") }}`, `axx xxa`, ""},
		{"replace", `{{ "a-b-c" | replace(from="-", to="::") }}`, `a::b::c`, ""},
		{"filter chain", `{{ " Mixed " | trim | lower | replace(from="m", to="M") }}`, `Mixed`, ""},
		{"default null", `{{ nothing | default(value="d") }} {{ obj.nil | default(value="n") }} {{ obj.missing | default(value="m") }}`, `d n m`, ""},
		{"default keeps falsy", `[{{ get_env(name="EMPTY") | default(value="x") }}] {{ 0 | default(value=1) }}`, `[] 0`, ""},
		{"default of index", `{{ list[9] | default(value="none") }}`, `none`, ""},
		{"default then more filters", `{{ missing | default(value="abc") | upper | truncate(length=2) }}`, `AB…`, ""},
		{"split join", `{{ "a,b,c" | split(pat=",") | join(sep=" + ") }}`, `a + b + c`, ""},
		{"first last nth length reverse", `{{ list | first }}{{ list | last }}{{ list | nth(n=1) }}{{ list | length }}{{ "héllo" | length }} {{ list | reverse }} {{ "abc" | reverse }}`, `acb35 [c, b, a] cba`, ""},
		{"sort unique slice", `{{ nums | sort }} {{ [1, 2, 1, 3] | unique }} {{ list | slice(start=1) }} {{ list | slice(end=-1) }}`, `[1, 2, 3] [1, 2, 3] [b, c] [a, b]`, ""},
		{"map filter group_by", `{{ users | map(attribute="name") }} {{ users | filter(attribute="team", value="a") | map(attribute="name") | join(sep=",") }} {{ users | group_by(attribute="team") | length }}`, `[Ann, Bob, Cid] Ann,Cid 2`, ""},
		{"sort by attribute", `{{ users | sort(attribute="name") | reverse | map(attribute="name") }}`, `[Cid, Bob, Ann]`, ""},
		{"concat filter", `{{ list | concat(with="d") }} {{ list | concat(with=[1]) | length }}`, `[a, b, c, d] 4`, ""},
		{"json_encode", `{{ obj | json_encode | safe }} {{ 'a"b' | json_encode }} {{ list | json_encode }}`, `{"name":"api","nil":null,"port":8080,"tags":["x","y"]} "a\"b" ["a","b","c"]`, ""},
		{"json_encode pretty", `{{ [1] | json_encode(pretty=true) }}`, "[\n  1\n]", ""},
		{"int float", `{{ "42" | int + 1 }} {{ "x" | int(default=7) }} {{ "ff" | int(base=16) }} {{ 3.9 | int }} {{ "1.5" | float }} {{ 2 | float }}`, `43 7 255 3 1.5 2.0`, ""},
		{"as_str", `{{ 1 | as_str ~ "x" }} {{ [1] | as_str }}`, `1x [1]`, ""},
		{"truncate", `{{ "hello world" | truncate(length=5) }} {{ "hi" | truncate(length=5) }} {{ "hello" | truncate(length=2, end="...") }}`, `hello… hi he...`, ""},
		{"slugify urlencode", `{{ "Hello, World! 2x" | slugify }} {{ "a b/c?d=é" | urlencode }} {{ "a b/c" | urlencode_strict }}`, `hello-world-2x a%20b/c%3Fd%3D%C3%A9 a%20b%2Fc`, ""},
		{"escape", `{{ html | escape }} {{ html | escape_xml }}`, `&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;&#x2F;b&gt; &lt;b&gt;&quot;x&quot; &amp; &apos;y&apos;&lt;/b&gt;`, ""},
		{"striptags spaceless linebreaksbr addslashes", `{{ html | striptags }}|{{ "<a> <b>" | spaceless }}|{{ "a\nb" | linebreaksbr }}|{{ "it's" | addslashes }}`, `"x" & 'y'|<a><b>|a\nb|it\'s`, ""},
		{"wordcount", `{{ "one two  three" | wordcount }}`, `3`, ""},
		{"indent", "{{ \"a\nb\n\nc\" | indent(prefix=\"  \") }}", "a\n  b\n\n  c", ""},
		{"numbers", `{{ -3 | abs }} {{ 2.567 | round(precision=2) }} {{ 2.1 | round(method="ceil") }} {{ 1 | pluralize }}|{{ 2 | pluralize(plural="es") }} {{ 1500 | filesizeformat }} {{ 2048 | filesizeformat(binary=true) }}`, `3 2.57 3.0 |es 1.5 kB 2 KiB`, ""},
		{"get", `{{ obj | get(key="name") }} {{ obj | get(key="x", default="d") }}`, `api d`, ""},
		{"date", `{{ 0 | date }} {{ 86400 | date(format="%Y/%m/%d %H:%M") }} {{ "2024-02-03T04:05:06Z" | date(format="%F %T") }}`, `1970-01-01 1970/01/02 00:00 2024-02-03 04:05:06`, ""},
		{"filter binds after math", `{{ 1 + 2 | as_str ~ "!" }} {{ list | length * 2 }}`, `3! 6`, ""},

		// Conditions.
		{"if elif else", `{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}`, `one two many `, ""},
		{"logic", `{{ true and not false }} {{ false or 1 > 2 }} {{ 2 >= 2 and 1 <= 0 }} {{ 1 != 2 }} {{ 1 == 1.0 }} {{ "1" == 1 }}`, `true false false true true false`, ""},
		{"in", `{{ "b" in list }} {{ "z" not in list }} {{ "ell" in "hello" }} {{ "name" in obj }} {{ 2 in [1, 2] }}`, `true true true true true`, ""},
		{"undefined is false in if", `{% if git_branch %}b{% else %}none{% endif %} {% if not git_branch %}neg{% endif %} {% if obj.missing.deep %}x{% else %}y{% endif %}`, `none neg y`, ""},
		{"undefined with filter in if", `{% if git_branch | upper %}x{% else %}u{% endif %}`, `u`, ""},
		{"is defined", `{{ key is defined }} {{ git_branch is defined }} {{ git_branch is not defined }} {{ obj.name is defined }} {{ obj.zzz is undefined }}`, `true false true true true`, ""},
		{"tests", `{{ 3 is odd }} {{ 4 is even }} {{ key is string }} {{ num is number }} {{ list is iterable }} {{ obj is object }} {{ 9 is divisibleby(3) }} {{ key is starting_with("mirrord") }} {{ key is ending_with("key") }} {{ list is containing("b") }} {{ key is matching("^m.+-key$") }}`, `true true true true true true true true true true true`, ""},
		{"branch in if", `{% if git_branch is defined and git_branch != "main" %}feature{% endif %}`, `feature`, "dev"},
		{"truthiness", `{% if "" %}a{% endif %}{% if [] %}b{% endif %}{% if 0 %}c{% endif %}{% if nothing %}d{% endif %}{% if "x" %}e{% endif %}{% if list %}f{% endif %}`, `ef`, ""},

		// Loops.
		{"for loop vars", `{% for x in list %}{{ loop.index }}{{ loop.index0 }}{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}`, `10aF;21b;32cL;`, ""},
		{"for over object", `{% for k, v in obj %}{{ k }}={{ v }};{% endfor %}`, `name=api;nil=;port=8080;tags=[x, y];`, ""},
		{"for over string", `{% for c in "héy" %}[{{ c }}]{% endfor %}`, `[h][é][y]`, ""},
		{"for over function", `{% for i in range(end=3) %}{{ i }}{% endfor %}`, `012`, ""},
		{"nested loops", `{% for a in [1, 2] %}{% for b in ["x", "y"] %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}`, `1x1 1y2 2x1 2y2 `, ""},
		{"break", `{% for x in range(end=10) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}!`, `012!`, ""},
		{"continue", `{% for x in range(end=5) %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}`, `024`, ""},
		{"break inner only", `{% for a in [1, 2] %}{% for b in [1, 2, 3] %}{% if b == 2 %}{% break %}{% endif %}{{ a }}{{ b }} {% endfor %}|{% endfor %}`, `11 |21 |`, ""},
		{"empty loop", `{% for x in [] %}x{% endfor %}done`, `done`, ""},
		{"for else empty", `{% for x in [] %}x{% else %}none{% endfor %}`, `none`, ""},
		{"for else full", `{% for x in list %}{{ x }}{% else %}none{% endfor %}`, `abc`, ""},
		{"for else after break", `{% for a in [1, 2] %}{% if a == 1 %}{% break %}{% endif %}{% for b in [] %}{% else %}E{% endfor %}{% endfor %}.`, `.`, ""},
		{"dotted numeric path", `{% set m = [[1, 2], [3, 4]] %}{{ m.1.0 }}{{ m.0.1 }}`, `32`, ""},

		// Variables.
		{"set", `{% set a = 1 + 1 %}{% set b = a * 2 %}{{ a }}{{ b }}`, `24`, ""},
		{"set in loop is local", `{% set t = 0 %}{% for x in [1, 2] %}{% set t = x %}{{ t }}{% endfor %}{{ t }}`, `120`, ""},
		{"set_global in loop", `{% set t = 0 %}{% for x in [1, 2, 3] %}{% set_global t = t + x %}{% endfor %}{{ t }}`, `6`, ""},
		{"set shadows context", `{% set key = "mine" %}{{ key }}`, `mine`, ""},
		{"set in if is global", `{% if true %}{% set z = "z" %}{% endif %}{{ z }}`, `z`, ""},

		// Comments, raw, whitespace control.
		{"comment", `a{# {{ not rendered }} #}b`, `ab`, ""},
		{"comment trims", "a \n {#- x -#} \n b", `ab`, ""},
		{"raw", `{% raw %}{{ x }} {% if %}{% endraw %}`, `{{ x }} {% if %}`, ""},
		{"raw keeps whitespace", "{% raw %} {{a}} \n{% endraw %}", " {{a}} \n", ""},
		{"raw trims", "{%- raw -%} {{a}} \n{%- endraw %}", "{{a}}", ""},
		{"trim expression", "a  {{- 1 -}}  b", `a1b`, ""},
		{"trim tags", "list:\n{%- for x in [1, 2] %}\n  - {{ x }}\n{%- endfor %}\nend", "list:\n  - 1\n  - 2\nend", ""},
		{"trim only one side", "a \n{%- if true %} b {% endif -%}\n c", "a b c", ""},
		{"no trim by default", "a\n{% if true %}\nb\n{% endif %}\nc", "a\n\nb\n\nc", ""},

		// Filter sections.
		{"filter block", `{% filter upper %}hello {{ key }}{% endfilter %}`, `HELLO MIRRORD-TEST-KEY`, ""},
		{"filter block args", `{% filter replace(from="a", to="o") %}banana{% endfilter %}`, `bonono`, ""},
		{"filter block with break", `{% for x in [1, 2, 3] %}{% filter upper %}a{{ x }}{% if x == 2 %}{% break %}{% endif %}b{% endfilter %}{% endfor %}`, `A1BA2`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testContext()
			if tc.branch != "" {
				c = withBranch(c, tc.branch)
			}
			out, err := Render(tc.src, c)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if out.Text != tc.want {
				t.Errorf("Render(%q)\n got: %q\nwant: %q", tc.src, out.Text, tc.want)
			}
			checkMap(t, tc.src, out)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src  string
		start, end int    // expected byte offsets of the error
		msg        string // expected substring of the message
	}{
		{"undefined variable", `x: {{ git_branch }}`, 6, 16, "Variable `git_branch` not found in context"},
		{"undefined hint", `{{ nope }}`, 3, 7, "write `nope | default(value='…')` for a fallback"},
		{"undefined did you mean", `{{ git_brnch }}`, 3, 12, "Variable `git_brnch` not found in context; did you mean `git_branch`?"},
		{"undefined did you mean loop var", `{% for item in list %}{{ itme }}{% endfor %}`, 25, 29, "did you mean `item`?"},
		{"no env object", `{{ env.HOME }}`, 3, 11, "there is no `env` object: read environment variables with `get_env(name=\"…\")`"},
		{"unknown function lists functions", `{{ env(name="HOME") }}`, 3, 6, "Function `env` not found; the functions are get_env, get_random, now, range, throw"},
		{"undefined attribute", `{{ obj.missing }}`, 3, 14, "Variable `obj.missing` not found"},
		{"undefined index", `{{ list[7] }}`, 3, 10, "maybe the index is out of bounds"},
		{"undefined in function arg", `{{ get_env(name=nope) }}`, 16, 20, "Variable `nope` not found"},
		{"unknown function", `a {{ get_enf(name="X") }}`, 5, 12, "Function `get_enf` not found; did you mean `get_env`?"},
		{"unknown filter", `{{ key | uper }}`, 9, 13, "Filter `uper` not found; did you mean `upper`?"},
		{"unknown filter in dead branch", `{% if false %}{{ key | nope }}{% endif %}`, 23, 27, "Filter `nope` not found"},
		{"unknown test", `{{ key is definde }}`, 10, 17, "Test `definde` not found; did you mean `defined`?"},
		{"unknown argument", `{{ key | replace(form="a", to="b") }}`, 17, 21, "filter `replace` has no argument `form`; did you mean `from`?"},
		{"missing argument", `{{ key | replace(to="b") }}`, 9, 24, "filter `replace` needs the argument `from`"},
		{"positional argument", `{{ get_env("X") }}`, 11, 14, "expected a keyword argument `name=value`"},
		{"django filter syntax", `{{ key|default:"x" }}`, 7, 15, "`default:` is Django/pongo2 syntax; Tera filters take keyword arguments, e.g. `default(value=...)`"},
		{"undefined compared in if", `{% if git_branch | length > 0 %}b{% endif %}`, 6, 16, "Variable `git_branch` not found"},
		{"get_env missing", `{{ get_env(name="NOT_SET") }}`, 3, 26, "environment variable `NOT_SET` is not set"},
		{"throw", `{% if true %}{{ throw(message="stop here") }}{% endif %}`, 16, 42, "Function `throw` failed: stop here"},
		{"range too large", `{{ range(end=1000000000) }}`, 3, 24, "more than the limit of 10000"},
		{"unclosed expression", "a\n{{ key ", 2, 4, "unclosed tag: `{{` has no matching `}}`"},
		{"unclosed comment", "{# x", 0, 2, "unclosed comment"},
		{"unclosed if", `{% if key %}x`, 0, 12, "`{% if %}` has no matching `{% endif %}`"},
		{"unclosed for", `{% for x in list %}x`, 0, 19, "`{% for %}` has no matching `{% endfor %}`"},
		{"unclosed raw", `{% raw %}{{`, 0, 9, "`{% raw %}` has no matching `{% endraw %}`"},
		{"stray endif", `x{% endif %}`, 1, 12, "there is no open block to close"},
		{"mismatched end", `{% if true %}{% endfor %}`, 13, 25, "expected `{% endif %}`"},
		{"unknown tag", `{% iff x %}`, 3, 6, "unknown tag `iff`; did you mean `if`?"},
		{"include refused", `{% include "secrets.txt" %}`, 0, 27, "`{% include %}` is not supported: templates cannot read files"},
		{"extends refused", `{% extends "base" %}`, 0, 20, "templates cannot read files"},
		{"import refused", `{% import "m" as m %}`, 0, 21, "templates cannot read files"},
		{"macro refused", `{% macro m() %}{% endmacro %}`, 0, 15, "macros are not supported"},
		{"break outside loop", `{% break %}`, 0, 11, "must be inside a `{% for %}` loop"},
		{"empty expression", `{{ }}`, 0, 5, "empty expression"},
		{"unterminated string", `{{ "abc }}`, 3, 4, "unterminated string literal"},
		{"bad character", `{{ key ; }}`, 7, 8, "unexpected character `;`"},
		{"add strings", `{{ "a" + "b" }}`, 3, 12, "use `~` to join strings"},
		{"compare strings", `{{ "a" < "b" }}`, 3, 12, "`<` compares numbers"},
		{"division by zero", `{{ 1 / 0 }}`, 3, 8, "division by zero"},
		{"overflow", `{{ 9223372036854775807 + 1 }}`, 3, 26, "out of the range of a 64-bit integer"},
		{"filter wrong type", `{{ 1 | upper }}`, 7, 12, "Filter `upper` failed: expected a string, got number"},
		{"iterate number", `{% for x in 5 %}{% endfor %}`, 12, 13, "cannot iterate over number"},
		{"iterate object needs key", `{% for x in obj %}{% endfor %}`, 12, 15, "needs two loop variables"},
		{"default needs value", `{{ x | default }}`, 7, 14, "filter `default` needs the argument `value`"},
		{"error position on second line", "a\nb {{ nope }}", 7, 11, "Variable `nope` not found"},
		{"string too long", `{% set s = "xxxxxxxxxxxxxxxx" %}{% for i in range(end=17) %}{% set_global s = s ~ s %}{% endfor %}`, 78, 83, "string value is too long"},
		{"too many steps", `{% for a in range(end=1000) %}{% for b in range(end=1000) %}{% endfor %}{% endfor %}`, -1, -1, "template is too expensive"},
		{"nested too deep", strings.Repeat("{% if true %}", 100), 64 * 13, 65 * 13, "nested more than 64 deep"},
		{"expression too deep", "{{ " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " }}", -1, -1, "nested more than 64 deep"},
		{"shared value blow-up", `{% set b = [1] %}{% for i in range(end=60) %}{% set_global b = [b, b] %}{% endfor %}{{ b | json_encode }}`, -1, -1, "template is too expensive"},
		{"deep value", `{% set b = [1] %}{% for i in range(end=5000) %}{% set_global b = [b] %}{% endfor %}{{ b }}`, 65, 68, "value is too large"},
		{"huge list of strings", `{% set s = "xxxxxxxxxxxxxxxx" %}{% for i in range(end=16) %}{% set_global s = s ~ s %}{% endfor %}{% set b = [] %}{% for i in range(end=100) %}{% set_global b = b | concat(with=s) %}{% endfor %}`, 165, 179, "value is too large"},
		{"split into too many", `{% set s = "xxxxxxxxxxxxxxxx" %}{% for i in range(end=12) %}{% set_global s = s ~ s %}{% endfor %}{{ s | split(pat="") }}`, 105, 118, "more than the limit of 10000"},
		{"loop over a long string", `{% set s = "xxxxxxxxxxxxxxxx" %}{% for i in range(end=12) %}{% set_global s = s ~ s %}{% endfor %}{% for c in s %}{% endfor %}`, 110, 111, "more than the limit of 10000 for a loop"},
		{"key value over array", `{% for k, v in list %}{% endfor %}`, 15, 19, "only objects have keys"},
		{"test argument count", `{{ 4 is divisibleby }}`, 8, 19, "takes 1 argument(s), got 0"},
		{"else in for twice", `{% for x in list %}{% else %}{% else %}{% endfor %}`, 29, 39, "expected `{% endfor %}`"},
	}
	var golden strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Render(tc.src, testContext())
			if err == nil {
				t.Fatalf("Render(%q) = %q, want an error", tc.src, out.Text)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error", err)
			}
			if !strings.Contains(te.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", te.Message, tc.msg)
			}
			if tc.start >= 0 && (te.Start != tc.start || te.End != tc.end) {
				t.Errorf("span = [%d,%d) %q, want [%d,%d) %q", te.Start, te.End, safeSlice(tc.src, te.Start, te.End),
					tc.start, tc.end, safeSlice(tc.src, tc.start, tc.end))
			}
			if te.Start < 0 || te.End < te.Start || te.End > len(tc.src) {
				t.Errorf("span [%d,%d) outside the source (len %d)", te.Start, te.End, len(tc.src))
			}
			fmt.Fprintf(&golden, "%s\n\t%s\n", tc.name, err)
		})
	}
	compareGolden(t, filepath.Join("testdata", "errors.golden"), golden.String())
}

func safeSlice(s string, a, b int) string {
	if a < 0 || b > len(s) || a > b {
		return "<out of range>"
	}
	return s[a:b]
}

func TestErrorLineColumn(t *testing.T) {
	_, err := Render("line1\n  {{ nope }}", testContext())
	if err == nil {
		t.Fatal("want an error")
	}
	if got := err.Error(); !strings.HasPrefix(got, "2:6: Variable `nope` not found") {
		t.Errorf("Error() = %q, want the 1-based line:col 2:6 first", got)
	}
}

// TestGolden renders every testdata/render/*.tera file and compares it with
// its .golden file; the rendered configs must parse in their format.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "render", "*.tera"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Render(string(src), testContext())
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			checkMap(t, string(src), out)
			compareGolden(t, strings.TrimSuffix(f, ".tera")+".golden", out.Text)
			var v any
			switch ext := filepath.Ext(strings.TrimSuffix(f, ".tera")); ext {
			case ".json":
				err = json.Unmarshal([]byte(out.Text), &v)
			case ".yaml":
				err = yaml.Unmarshal([]byte(out.Text), &v)
			case ".toml":
				err = toml.Unmarshal([]byte(out.Text), &v)
			}
			if err != nil {
				t.Errorf("the rendered text does not parse: %v\n%s", err, out.Text)
			}
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestNotTemplateFastPath(t *testing.T) {
	for _, src := range []string{"", "{", "}", "{ {", `{"a": {"b": 1}}`, "a {x} b"} {
		if IsTemplate(src) {
			t.Errorf("IsTemplate(%q) = true", src)
		}
		out, err := Render(src, Context{})
		if err != nil || out.Text != src {
			t.Errorf("Render(%q) = %v, %v; want it unchanged", src, out, err)
		}
	}
	for _, src := range []string{"{{", "{%", "{#", "a {{ b", "{{{"} {
		if !IsTemplate(src) {
			t.Errorf("IsTemplate(%q) = false", src)
		}
	}
}

func TestDocs(t *testing.T) {
	for _, list := range [][]Doc{Functions(), Filters(), Tests()} {
		if len(list) == 0 {
			t.Fatal("empty list")
		}
		for _, d := range list {
			if d.Name == "" || d.Signature == "" || d.Description == "" {
				t.Errorf("incomplete doc %+v", d)
			}
		}
	}
	names := map[string]bool{}
	for _, d := range Functions() {
		names[d.Name] = true
	}
	for _, want := range []string{"get_env", "range", "throw", "now", "get_random"} {
		if !names[want] {
			t.Errorf("Functions() lacks %s", want)
		}
	}
}

// TestUserDocsListEverything keeps docs/templating.md in step with what
// the engine supports.
func TestUserDocsListEverything(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "templating.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, list := range [][]Doc{Functions(), Filters(), Tests()} {
		for _, d := range list {
			if !strings.Contains(doc, "| `"+d.Signature+"` |") {
				t.Errorf("docs/templating.md has no table row for %s", d.Signature)
			}
		}
	}
}

func TestConcurrentRenders(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "render", "complete.yaml.tera"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(string(src), testContext())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				out, err := Render(string(src), testContext())
				if err != nil {
					errs <- err
					return
				}
				if out.Text != want.Text {
					errs <- fmt.Errorf("concurrent render differs")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCompiledProgram shows the pongo2 program a template becomes: control
// flow in pongo2, everything else as runs of calls into the runtime.
func TestCompiledProgram(t *testing.T) {
	tests := []struct{ src, want string }{
		{`a{{ b }}c`, `{{ x(0, 2) }}`},
		{`a{% if c %}d{% elif e %}f{% else %}g{% endif %}h`,
			`{{ x(0, 0) }}{% if c(1) %}{{ x(2, 2) }}{% elif c(3) %}{{ x(4, 4) }}{% else %}{{ x(5, 5) }}{% endif %}{{ x(6, 6) }}`},
		{`{% for v in l %}{{ v }}{% break %}{% else %}none{% endfor %}`,
			`{% for it in l(0) %}{{ i(0, it) }}{{ x(1, 2) }}{% empty %}{{ x(3, 3) }}{% endfor %}`},
		{`{% filter upper %}x{% endfilter %}{# c #}{% raw %}{{ r }}{% endraw %}`, `{{ x(0, 3) }}`},
	}
	for _, tc := range tests {
		nodes, err := parseTemplate(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		pg := &program{src: tc.src}
		pg.compile(nodes, nil)
		pg.flush()
		if got := pg.p2src.String(); got != tc.want {
			t.Errorf("%q compiles to\n%s\nwant\n%s", tc.src, got, tc.want)
		}
	}
}

func TestNowAndRandom(t *testing.T) {
	out, err := Render(`{{ now(utc=true) | date(format="%Y") }}|{{ now(timestamp=true) > 1700000000 }}|{{ get_random(start=5, end=6) }}`, testContext())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(out.Text, "|")
	if len(parts) != 3 || len(parts[0]) != 4 || parts[1] != "true" || parts[2] != "5" {
		t.Errorf("got %q", out.Text)
	}
}
