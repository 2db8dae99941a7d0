// Package schemadoc answers questions about a JSON Schema (draft 2020-12)
// for editor features: which properties an object has, what a field's type,
// enum values, default and description are. It follows local $ref/$defs,
// flattens anyOf/oneOf/allOf into alternatives, and understands
// properties, patternProperties, additionalProperties, items/prefixItems,
// enum and const.
package schemadoc

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// maxDepth bounds $ref chains and combinator nesting (guards cycles).
const maxDepth = 32

// Schema is a parsed JSON Schema document.
type Schema struct {
	root map[string]any
}

// Parse reads a JSON Schema.
func Parse(data []byte) (*Schema, error) {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parsing the JSON Schema: %w", err)
	}
	return &Schema{root: root}, nil
}

// Set is what a value at some place may be: the alternatives (resolved
// schema objects) plus the documentation found on the way there.
type Set struct {
	s    *Schema
	alts []map[string]any
	// meta is the first description/default/title seen, outermost first.
	description string
	title       string
	def         any
	hasDefault  bool
	deprecated  bool
	examples    []any
}

// Root is the set of the whole document.
func (s *Schema) Root() Set {
	return s.set([]map[string]any{s.root})
}

// Empty reports whether nothing is known about the value.
func (st Set) Empty() bool { return len(st.alts) == 0 }

// set expands the given schema objects into a Set.
func (s *Schema) set(nodes []map[string]any) Set {
	st := Set{s: s}
	for _, n := range nodes {
		st.absorbMeta(n)
		st.alts = append(st.alts, s.expand(n, 0, &st)...)
	}
	return st
}

func (st *Set) absorbMeta(n map[string]any) {
	if st.description == "" {
		if d, ok := n["description"].(string); ok {
			st.description = d
		}
	}
	if st.title == "" {
		if t, ok := n["title"].(string); ok {
			st.title = t
		}
	}
	if !st.hasDefault {
		if d, ok := n["default"]; ok {
			st.def, st.hasDefault = d, true
		}
	}
	if ex, ok := n["examples"].([]any); ok && len(st.examples) == 0 {
		st.examples = ex
	}
	if dep, ok := n["deprecated"].(bool); ok && dep {
		st.deprecated = true
	}
}

// expand resolves $ref and flattens anyOf/oneOf/allOf, returning the
// alternatives. Documentation met on the way is recorded in st.
func (s *Schema) expand(n map[string]any, depth int, st *Set) []map[string]any {
	if depth > maxDepth || n == nil {
		return nil
	}
	if ref, ok := n["$ref"].(string); ok {
		target := s.resolve(ref)
		if target == nil {
			return nil
		}
		st.absorbMeta(target)
		rest := withoutKeys(n, "$ref", "description", "title", "default")
		alts := s.expand(target, depth+1, st)
		if len(rest) > 0 {
			alts = mergeInto(alts, rest)
		}
		return alts
	}
	var out []map[string]any
	combined := false
	for _, key := range []string{"anyOf", "oneOf"} {
		list, ok := n[key].([]any)
		if !ok {
			continue
		}
		combined = true
		base := withoutKeys(n, "anyOf", "oneOf", "description", "title", "default")
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			for _, alt := range s.expand(m, depth+1, st) {
				if len(base) > 0 && !isOnlyMeta(base) {
					alt = mergeMaps(base, alt)
				}
				out = append(out, alt)
			}
		}
	}
	if list, ok := n["allOf"].([]any); ok {
		merged := []map[string]any{withoutKeys(n, "allOf", "anyOf", "oneOf")}
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			parts := s.expand(m, depth+1, st)
			if len(parts) == 0 {
				continue
			}
			var next []map[string]any
			for _, a := range merged {
				for _, p := range parts {
					next = append(next, mergeMaps(a, p))
				}
			}
			merged = next
		}
		if combined {
			return cross(out, merged)
		}
		return merged
	}
	if combined {
		return out
	}
	return []map[string]any{n}
}

func cross(a, b []map[string]any) []map[string]any {
	var out []map[string]any
	for _, x := range a {
		for _, y := range b {
			out = append(out, mergeMaps(x, y))
		}
	}
	return out
}

func isOnlyMeta(m map[string]any) bool {
	for k := range m {
		switch k {
		case "$schema", "$id", "$defs", "definitions", "$comment", "examples", "deprecated":
		default:
			return false
		}
	}
	return true
}

func withoutKeys(n map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(n))
	for k, v := range n {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// mergeMaps combines two schema objects (allOf); properties are unioned.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if k == "properties" {
			pa, _ := out[k].(map[string]any)
			pb, _ := v.(map[string]any)
			props := make(map[string]any, len(pa)+len(pb))
			for pk, pv := range pa {
				props[pk] = pv
			}
			for pk, pv := range pb {
				props[pk] = pv
			}
			out[k] = props
			continue
		}
		out[k] = v
	}
	return out
}

func mergeInto(alts []map[string]any, rest map[string]any) []map[string]any {
	out := make([]map[string]any, len(alts))
	for i, a := range alts {
		out[i] = mergeMaps(rest, a)
	}
	return out
}

// resolve follows a local reference such as "#/$defs/Fs".
func (s *Schema) resolve(ref string) map[string]any {
	if ref == "#" {
		return s.root
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = s.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok, err := url.PathUnescape(tok)
		if err != nil {
			return nil
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

// Property is the set of the value of key in an object at st.
func (st Set) Property(key string) Set {
	var nodes []map[string]any
	for _, alt := range st.alts {
		if props, ok := alt["properties"].(map[string]any); ok {
			if p, ok := props[key].(map[string]any); ok {
				nodes = append(nodes, p)
				continue
			}
		}
		matched := false
		if pats, ok := alt["patternProperties"].(map[string]any); ok {
			for pat, sub := range pats {
				re, err := regexp.Compile(pat)
				m, ok := sub.(map[string]any)
				if err == nil && ok && re.MatchString(key) {
					nodes = append(nodes, m)
					matched = true
				}
			}
		}
		if matched {
			continue
		}
		if ap, ok := alt["additionalProperties"].(map[string]any); ok {
			nodes = append(nodes, ap)
		}
	}
	if st.s == nil {
		return Set{}
	}
	return st.s.set(nodes)
}

// Item is the set of an element of an array at st.
func (st Set) Item(index int) Set {
	var nodes []map[string]any
	for _, alt := range st.alts {
		if pre, ok := alt["prefixItems"].([]any); ok && index >= 0 && index < len(pre) {
			if m, ok := pre[index].(map[string]any); ok {
				nodes = append(nodes, m)
				continue
			}
		}
		if items, ok := alt["items"].(map[string]any); ok {
			nodes = append(nodes, items)
		}
	}
	if st.s == nil {
		return Set{}
	}
	return st.s.set(nodes)
}

// Prop is one property an object may have.
type Prop struct {
	Name string
	Set  Set
}

// Properties lists the properties of the object alternatives, sorted by
// name.
func (st Set) Properties() []Prop {
	seen := map[string]bool{}
	var names []string
	for _, alt := range st.alts {
		props, _ := alt["properties"].(map[string]any)
		for name := range props {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	out := make([]Prop, 0, len(names))
	for _, name := range names {
		out = append(out, Prop{Name: name, Set: st.Property(name)})
	}
	return out
}

// Enums lists the enum and const values of all alternatives, without
// duplicates, in schema order.
func (st Set) Enums() []any {
	var out []any
	seen := map[string]bool{}
	add := func(v any) {
		b, _ := json.Marshal(v)
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, v)
		}
	}
	for _, alt := range st.alts {
		if list, ok := alt["enum"].([]any); ok {
			for _, v := range list {
				add(v)
			}
		}
		if c, ok := alt["const"]; ok {
			add(c)
		}
	}
	return out
}

// AltDescription returns the description of the alternative that allows
// value as an enum or const, if any.
func (st Set) AltDescription(value any) string {
	want, _ := json.Marshal(value)
	for _, alt := range st.alts {
		match := false
		if list, ok := alt["enum"].([]any); ok {
			for _, v := range list {
				if b, _ := json.Marshal(v); string(b) == string(want) {
					match = true
				}
			}
		}
		if c, ok := alt["const"]; ok {
			if b, _ := json.Marshal(c); string(b) == string(want) {
				match = true
			}
		}
		if d, ok := alt["description"].(string); ok && match {
			return d
		}
	}
	return ""
}

// Types lists the JSON types the value may have ("object", "string", ...),
// sorted. Alternatives without a type but with properties count as object.
func (st Set) Types() []string {
	seen := map[string]bool{}
	for _, alt := range st.alts {
		for _, t := range altTypes(alt) {
			seen[t] = true
		}
	}
	return sortedKeys(seen)
}

// freeTypes lists the types of alternatives that are not enum/const.
func (st Set) freeTypes() []string {
	seen := map[string]bool{}
	for _, alt := range st.alts {
		if _, ok := alt["enum"]; ok {
			continue
		}
		if _, ok := alt["const"]; ok {
			continue
		}
		for _, t := range altTypes(alt) {
			seen[t] = true
		}
	}
	return sortedKeys(seen)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func altTypes(alt map[string]any) []string {
	switch t := alt["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	switch {
	case alt["properties"] != nil || alt["additionalProperties"] != nil || alt["patternProperties"] != nil:
		return []string{"object"}
	case alt["items"] != nil || alt["prefixItems"] != nil:
		return []string{"array"}
	}
	var out []string
	if list, ok := alt["enum"].([]any); ok {
		for _, v := range list {
			out = append(out, JSONType(v))
		}
	}
	if c, ok := alt["const"]; ok {
		out = append(out, JSONType(c))
	}
	return out
}

// Has reports whether the value may have JSON type t.
func (st Set) Has(t string) bool {
	for _, x := range st.Types() {
		if x == t || (t == "number" && x == "integer") {
			return true
		}
	}
	return false
}

// JSONType is the JSON Schema type name of a decoded JSON value.
func JSONType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// Description of the value (the outermost one found).
func (st Set) Description() string { return st.description }

// Title of the value.
func (st Set) Title() string { return st.title }

// Default value, if the schema gives one.
func (st Set) Default() (any, bool) { return st.def, st.hasDefault }

// Deprecated reports whether the schema marks the value deprecated.
func (st Set) Deprecated() bool { return st.deprecated }

// TypeSummary is a short human description such as `string | object`, with
// enums spelled out when there are few.
func (st Set) TypeSummary() string {
	enums := st.Enums()
	var parts []string
	types := st.Types()
	if len(enums) > 0 && len(enums) <= 8 {
		for _, e := range enums {
			b, _ := json.Marshal(e)
			parts = append(parts, string(b))
		}
		types = st.freeTypes()
	}
	parts = append(parts, types...)
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, " | ")
}

// Examples lists the schema's examples for the value (outermost first).
func (st Set) Examples() []any {
	var out []any
	for _, alt := range st.alts {
		if list, ok := alt["examples"].([]any); ok {
			out = append(out, list...)
		}
	}
	if len(st.examples) > 0 {
		return st.examples
	}
	return out
}
