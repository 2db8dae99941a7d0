// Package tera renders Tera templates, the template language mirrord applies
// to the whole text of a config file before parsing it (Tera 1.20 with
// default features; see docs/templating.md for the supported surface).
//
// # Design
//
// pongo2 (github.com/flosch/pongo2/v6) is a Django template engine, and
// its semantics differ from Tera's in ways that matter here: filters take one
// positional argument (`|default:"x"`) instead of keyword arguments;
// undefined variables silently render as empty text, while Tera (and so
// mirrord) reports "Variable `x` not found in context"; there is no `~`,
// no `is defined`, no `set_global`, no `break`/`continue`; filters can only
// be registered globally; and its error positions refer to its own input.
// So the work is split:
//
//   - A Tera front end (lex.go, parse.go) scans the template, applies
//     whitespace control (`{%-`, `-%}`, `{{-`, `-}}`, `{#-`, `-#}`) and
//     `{% raw %}`, and parses every tag with the exact byte offsets of every
//     token in the original text. Unknown tags, functions, filters, tests and
//     keyword arguments are reported here, with positions, before anything
//     runs (Tera reports them only when the code path is taken).
//   - The tree is compiled (exec.go) into a pongo2 template that holds the
//     control flow only: `{% if %}`/`{% elif %}`/`{% else %}` and
//     `{% for %}` (with `{% empty %}` for Tera's `{% for %}…{% else %}`),
//     with every condition, loop container, output, text
//     segment and `set` replaced by a call such as `{{ x(3) }}` or
//     `{% if c(4) %}` into a per-render runtime passed in the pongo2
//     Context. pongo2 parses and executes that program; nothing is
//     registered globally, so renders are independent and safe to run
//     concurrently, and every render uses its own TemplateSet whose loader
//     refuses to read files.
//   - The runtime (eval.go, builtins.go) evaluates expressions with Tera's
//     semantics: JSON-like values, keyword arguments, the special-cased
//     `default` filter, undefined-is-false in conditions, Tera's value
//     printing, scoping of `set` in loops and `set_global`, `loop.*`, and
//     `break`/`continue` (the runtime marks the loop and skips the remaining
//     calls of its body, as pongo2 cannot leave a loop early).
//   - The runtime writes the output itself, so it knows where every byte
//     came from: the SourceMap (sourcemap.go) maps a rendered offset to the
//     original offset (literal text byte for byte; an expression's output
//     to its whole `{{ }}` tag). pongo2's own output is discarded (it is
//     empty: every call returns "").
//
// Limits keep hostile input harmless: evaluation steps, output size, string
// length, list length (so `range(end=1000000000)` is refused) and nesting
// depth are bounded, and a panic anywhere becomes an *Error.
package tera

// Doc describes a function, filter or test for editor completion and hover.
type Doc struct {
	Name        string // e.g. "get_env"
	Signature   string // e.g. `get_env(name="VAR", default=...)`
	Description string
}
