package schemadoc

import (
	"reflect"
	"testing"
)

const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "fs": {"description": "Files.", "default": "read", "anyOf": [
      {"type": "boolean"}, {"type": "null"}, {"$ref": "#/$defs/Mode"}, {"$ref": "#/$defs/Fs"}]},
    "env": {"allOf": [{"$ref": "#/$defs/A"}, {"properties": {"b": {"type": "integer"}}}]},
    "map": {"type": "object", "patternProperties": {"^x-": {"type": "string", "description": "x"}}, "additionalProperties": {"type": "boolean"}},
    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": {"type": "null"}},
    "loop": {"$ref": "#/$defs/Loop"},
    "bad": {"$ref": "https://example.com/remote"}
  },
  "$defs": {
    "Mode": {"type": "string", "enum": ["read", "write"], "description": "The mode."},
    "Fs": {"type": "object", "properties": {"mode": {"$ref": "#/$defs/Mode", "description": "Outer wins."}}},
    "A": {"properties": {"a": {"type": "string", "examples": ["ex"]}}},
    "Loop": {"$ref": "#/$defs/Loop"}
  }
}`

func TestSet(t *testing.T) {
	s, err := Parse([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	root := s.Root()
	var names []string
	for _, p := range root.Properties() {
		names = append(names, p.Name)
	}
	if want := []string{"bad", "env", "fs", "loop", "map", "pair"}; !reflect.DeepEqual(names, want) {
		t.Errorf("properties = %v, want %v", names, want)
	}
	fs := root.Property("fs")
	if got := fs.Types(); !reflect.DeepEqual(got, []string{"boolean", "null", "object", "string"}) {
		t.Errorf("fs types = %v", got)
	}
	if got := fs.Enums(); !reflect.DeepEqual(got, []any{"read", "write"}) {
		t.Errorf("fs enums = %v", got)
	}
	if d, ok := fs.Default(); !ok || d != "read" || fs.Description() != "Files." {
		t.Errorf("fs default/description = %v %v %q", d, ok, fs.Description())
	}
	if got := fs.TypeSummary(); got != `"read" | "write" | boolean | null | object` {
		t.Errorf("fs summary = %q", got)
	}
	if got := fs.AltDescription("write"); got != "The mode." {
		t.Errorf("alt description = %q", got)
	}
	mode := fs.Property("mode")
	if mode.Description() != "Outer wins." || !reflect.DeepEqual(mode.Enums(), []any{"read", "write"}) {
		t.Errorf("fs.mode = %q %v", mode.Description(), mode.Enums())
	}
	env := root.Property("env")
	if !env.Property("a").Has("string") || !env.Property("b").Has("number") {
		t.Errorf("allOf merge lost properties: a=%v b=%v", env.Property("a").Types(), env.Property("b").Types())
	}
	if ex := env.Property("a").Examples(); !reflect.DeepEqual(ex, []any{"ex"}) {
		t.Errorf("examples = %v", ex)
	}
	m := root.Property("map")
	if m.Property("x-y").Description() != "x" || !m.Property("other").Has("boolean") {
		t.Errorf("pattern/additional properties: %v %v", m.Property("x-y").Types(), m.Property("other").Types())
	}
	pair := root.Property("pair")
	if !pair.Item(0).Has("string") || !pair.Item(1).Has("integer") || !pair.Item(5).Has("null") {
		t.Errorf("items: %v %v %v", pair.Item(0).Types(), pair.Item(1).Types(), pair.Item(5).Types())
	}
	if !root.Property("loop").Empty() || !root.Property("bad").Empty() || !root.Property("nope").Empty() {
		t.Error("a cyclic, remote or unknown reference should give an empty set")
	}
	if !root.Property("nope").Property("deeper").Empty() {
		t.Error("walking below nothing gives nothing")
	}
}

func TestParseError(t *testing.T) {
	if _, err := Parse([]byte(`{"type":`)); err == nil {
		t.Error("broken schema accepted")
	}
}
