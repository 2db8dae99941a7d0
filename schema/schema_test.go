package schema

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// schemaProps collects the object properties a schema location allows,
// following $ref, anyOf, oneOf and allOf. Each property maps to the
// subschemas that describe it.
func schemaProps(t *testing.T, s any, seen map[string]bool) (props map[string][]any, isObject bool) {
	props = map[string][]any{}
	m, ok := s.(map[string]any)
	if !ok {
		return props, false
	}
	if ref, ok := m["$ref"].(string); ok {
		if !seen[ref] {
			seen[ref] = true
			target, ok := schemaAt(strings.TrimPrefix(ref, "#"))
			if !ok {
				t.Errorf("dangling $ref %s", ref)
			}
			p, obj := schemaProps(t, target, seen)
			for k, v := range p {
				props[k] = append(props[k], v...)
			}
			isObject = isObject || obj
			delete(seen, ref)
		}
	}
	for _, kw := range []string{"anyOf", "oneOf", "allOf"} {
		list, _ := m[kw].([]any)
		for _, sub := range list {
			p, obj := schemaProps(t, sub, seen)
			for k, v := range p {
				props[k] = append(props[k], v...)
			}
			isObject = isObject || obj
		}
	}
	// Look through arrays and maps of objects, as goFields looks through
	// slices.
	for _, kw := range []string{"items", "additionalProperties"} {
		if sub, ok := m[kw].(map[string]any); ok {
			p, obj := schemaProps(t, sub, seen)
			for k, v := range p {
				props[k] = append(props[k], v...)
			}
			isObject = isObject || obj
		}
	}
	if p, ok := m["properties"].(map[string]any); ok {
		isObject = true
		for k, v := range p {
			props[k] = append(props[k], v)
		}
	}
	return props, isObject
}

// goFields collects the json-named fields of a file-model type, looking
// through Opt, pointers, slices and the `variant:"object"` fields of
// union types.
func goFields(t reflect.Type) (map[string]reflect.Type, bool) {
	out := map[string]reflect.Type{}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		return nil, false
	}
	if t.Kind() != reflect.Struct {
		return out, false
	}
	if strings.HasPrefix(t.Name(), "Opt[") {
		f, _ := t.FieldByName("Value")
		return goFields(f.Type)
	}
	isObject := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("variant") == "object" {
			sub, obj := goFields(f.Type)
			for k, v := range sub {
				out[k] = v
			}
			isObject = isObject || obj
			continue
		}
		if name := jsonName(f); name != "" {
			out[name] = f.Type
			isObject = true
		}
	}
	return out, isObject
}

// TestSchemaMatchesModel walks the Go file model and the JSON Schema side
// by side: every Go field must be in the schema and every schema property
// must be a Go field, at every level.
func TestSchemaMatchesModel(t *testing.T) {
	checked := 0
	var walk func(path string, gt reflect.Type, sch []any)
	walk = func(path string, gt reflect.Type, sch []any) {
		gf, gobj := goFields(gt)
		if gf == nil {
			return // any: the Go model keeps the value as is
		}
		sp := map[string][]any{}
		sobj := false
		for _, s := range sch {
			p, obj := schemaProps(t, s, map[string]bool{})
			for k, v := range p {
				sp[k] = append(sp[k], v...)
			}
			sobj = sobj || obj
		}
		if !gobj || !sobj {
			if gobj != sobj && len(gf)+len(sp) > 0 {
				t.Errorf("%s: Go object %v, schema object %v", path, gobj, sobj)
			}
			return
		}
		var names []string
		for k := range gf {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if _, ok := sp[k]; !ok {
				t.Errorf("%s.%s: Go field missing from the schema", path, k)
			}
		}
		for k := range sp {
			if _, ok := gf[k]; !ok {
				t.Errorf("%s.%s: schema property missing from the Go model", path, k)
			}
		}
		for _, k := range names {
			checked++
			if s, ok := sp[k]; ok {
				walk(path+"."+k, gf[k], s)
			}
		}
	}
	walk("(root)", reflect.TypeFor[FileConfig](), []any{schemaDoc()})
	if checked < 184 {
		t.Errorf("only %d fields compared; the model has at least 184 leaves", checked)
	}
	t.Logf("%d fields compared", checked)
}

// TestSchemaDocumentsEveryProperty: every property has a description, a
// type (directly or through its reference) and, unless its object requires
// it, a default (null means unset), as editors show them.
func TestSchemaDocumentsEveryProperty(t *testing.T) {
	var walk func(path string, s any)
	walk = func(path string, s any) {
		m, ok := s.(map[string]any)
		if !ok {
			return
		}
		required := map[string]bool{}
		if req, ok := m["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				required[name] = true
			}
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for k, v := range props {
				pm, _ := v.(map[string]any)
				if _, ok := pm["default"]; !ok && !required[k] {
					t.Errorf("%s.%s has no default", path, k)
				}
				desc, _ := pm["description"].(string)
				if desc == "" {
					if ref, ok := pm["$ref"].(string); ok {
						target, _ := schemaAt(strings.TrimPrefix(ref, "#"))
						tm, _ := target.(map[string]any)
						desc, _ = tm["description"].(string)
					}
				}
				if desc == "" {
					t.Errorf("%s.%s has no description", path, k)
				}
				_, hasType := pm["type"]
				_, hasRef := pm["$ref"]
				_, hasAny := pm["anyOf"]
				if !hasType && !hasRef && !hasAny {
					t.Errorf("%s.%s has no type", path, k)
				}
				walk(path+"."+k, v)
			}
		}
		for _, v := range m {
			switch x := v.(type) {
			case map[string]any:
				walk(path, x)
			case []any:
				for _, e := range x {
					walk(path, e)
				}
			}
		}
	}
	walk("", schemaDoc())
	var check map[string]any
	if err := json.Unmarshal(JSONSchema(), &check); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if check["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", check["$schema"])
	}
	if _, err := compiledSchema(); err != nil {
		t.Fatal(err)
	}
}
