package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed mirrord-schema.json
var schemaSource []byte

// defaultAgentImagePlaceholder stands, in mirrord-schema.json, for the
// default agent image, whose tag is the build's version.
const defaultAgentImagePlaceholder = `"` + DefaultAgentImage + `:<version>"`

// schemaJSON is the embedded schema with this build's default agent image
// filled in. It is made once, at start-up, and never changed.
var schemaJSON = bytes.ReplaceAll(schemaSource, []byte(defaultAgentImagePlaceholder), []byte(`"`+DefaultAgentImageRef()+`"`))

const schemaURL = "https://mirrord-ls.dev/mirrord-schema.json"

// JSONSchema returns the embedded JSON Schema (draft 2020-12). It is the
// single source of truth for field names, types, defaults and docs.
func JSONSchema() []byte { return append([]byte(nil), schemaJSON...) }

// validatorDoc is the schema the validator runs: the embedded schema with
// every local $ref replaced by a copy of its definition (the $defs stay,
// so locations in both documents resolve the same way). The two are
// equivalent; the inlined form spares the validator a scope per $ref,
// which is most of its cost. It is built once and never changed.
var validatorDoc = sync.OnceValue(func() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(schemaJSON, &m); err != nil {
		return map[string]any{}
	}
	defs, _ := m["$defs"].(map[string]any)
	out, _ := inlineRefs(m, defs, 0).(map[string]any)
	out["$defs"] = defs
	return out
})

// inlineRefs replaces {"$ref": "#/$defs/X", ...siblings} with the
// definition of X merged with the siblings.
func inlineRefs(v any, defs map[string]any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && depth < maxDepth {
			if d, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any); ok {
				m := make(map[string]any, len(d)+len(x))
				for k, e := range d {
					m[k] = e
				}
				for k, e := range x {
					if k != "$ref" {
						m[k] = e
					}
				}
				return inlineRefs(m, defs, depth+1)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "$defs" {
				continue
			}
			out[k] = inlineRefs(e, defs, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = inlineRefs(e, defs, depth+1)
		}
		return out
	}
	return v
}

// compiledSchema is built once, on first use, and never changed.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := json.Marshal(validatorDoc())
	if err != nil {
		return nil, fmt.Errorf("inline embedded schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(schemaURL, bytes.NewReader(doc)); err != nil {
		return nil, fmt.Errorf("load embedded schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile embedded schema: %w", err)
	}
	return s, nil
})

// schemaDoc is the embedded schema as plain JSON values.
var schemaDoc = sync.OnceValue(func() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(schemaJSON, &m); err != nil {
		return map[string]any{}
	}
	return m
})

// validatorAt resolves a JSON pointer inside validatorDoc, where the
// validator's keyword locations point.
func validatorAt(pointer string) (any, bool) { return docAt(validatorDoc(), pointer) }

// schemaAt resolves a JSON pointer inside the embedded schema.
func schemaAt(pointer string) (any, bool) { return docAt(schemaDoc(), pointer) }

func docAt(doc map[string]any, pointer string) (any, bool) {
	var cur any = doc
	if pointer == "" {
		return cur, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = unescapePointer(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// schemaFragment returns the schema-internal pointer of an absolute keyword
// location ("https://…#/$defs/Network/additionalProperties" → "/$defs/Network/additionalProperties").
func schemaFragment(abs string) string {
	if i := strings.IndexByte(abs, '#'); i >= 0 {
		return abs[i+1:]
	}
	return ""
}

func parentPointer(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func lastToken(p string) string {
	return unescapePointer(p[strings.LastIndexByte(p, '/')+1:])
}

// validateSchema checks the document against the embedded schema and turns
// the library's error tree into findings with positions.
func validateSchema(root *Node) []finding {
	s, err := compiledSchema()
	if err != nil {
		return []finding{{Severity: SeverityError, Code: "SCHEMA", Stage: StageSchema, Message: err.Error()}}
	}
	err = s.Validate(root.Any())
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []finding{{Severity: SeverityError, Code: "SCHEMA", Stage: StageSchema, Message: err.Error()}}
	}
	sv := schemaValidation{root: root}
	sv.collect(ve)
	return sv.out
}

type schemaValidation struct {
	root *Node
	out  []finding
}

func keyword(ve *jsonschema.ValidationError) string {
	return lastToken(ve.KeywordLocation)
}

// collect walks the error tree, choosing the most plausible branch of each
// failed anyOf so that a user sees what is wrong with the form they wrote,
// not with every form the field could have.
func (sv *schemaValidation) collect(ve *jsonschema.ValidationError) {
	switch keyword(ve) {
	case "anyOf", "oneOf":
		sv.anyOf(ve)
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			sv.collect(c)
		}
		return
	}
	sv.leaf(ve)
}

// typeMismatch reports whether a branch failed only because the value has
// another JSON type, and returns the types the branch wanted.
func typeMismatch(ve *jsonschema.ValidationError, at string) ([]string, bool) {
	for len(ve.Causes) == 1 && keyword(ve) != "type" {
		ve = ve.Causes[0]
	}
	if len(ve.Causes) == 0 && keyword(ve) == "type" && ve.InstanceLocation == at {
		t, _ := validatorAt(schemaFragment(ve.AbsoluteKeywordLocation))
		return typeNames(t), true
	}
	if len(ve.Causes) > 1 && ve.InstanceLocation == at {
		// anyOf inside a branch that all mismatched the type
		if k := keyword(ve); k == "anyOf" {
			var all []string
			for _, c := range ve.Causes {
				ts, ok := typeMismatch(c, at)
				if !ok {
					return nil, false
				}
				all = append(all, ts...)
			}
			return all, true
		}
	}
	return nil, false
}

func typeNames(t any) []string {
	switch x := t.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func countLeaves(ve *jsonschema.ValidationError) int {
	if len(ve.Causes) == 0 {
		return 1
	}
	n := 0
	for _, c := range ve.Causes {
		n += countLeaves(c)
	}
	return n
}

func (sv *schemaValidation) anyOf(ve *jsonschema.ValidationError) {
	var candidates []*jsonschema.ValidationError
	var wanted []string
	for _, c := range ve.Causes {
		if ts, ok := typeMismatch(c, ve.InstanceLocation); ok {
			wanted = append(wanted, ts...)
			continue
		}
		candidates = append(candidates, c)
	}
	if len(candidates) > 0 {
		best := candidates[0]
		for _, c := range candidates[1:] {
			if countLeaves(c) < countLeaves(best) {
				best = c
			}
		}
		sv.collect(best)
		return
	}
	n, _ := sv.root.Locate(ve.InstanceLocation)
	start, end := valueSpan(sv.root, ve.InstanceLocation)
	sv.out = append(sv.out, finding{
		Severity: SeverityError, Code: "A-TYPES", Stage: StageSchema, Pointer: ve.InstanceLocation,
		Message: fmt.Sprintf("`%s`: expected %s, found %s", fieldPath(ve.InstanceLocation), describeTypes(wanted), describeNode(n)),
		Start:   start, End: end,
	})
}

func article(t string) string {
	switch t {
	case "integer", "object", "array":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

// describeTypes names the accepted JSON types, leaving out null (every
// field accepts null, which is rarely what a user means to write).
func describeTypes(ts []string) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		if t == "null" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, article(t))
	}
	switch len(out) {
	case 0:
		return "null"
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}

func describeNode(n *Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case KindString:
		return fmt.Sprintf("the string %q", n.Str)
	case KindNumber:
		return "the number " + n.Str
	case KindBool:
		return "the boolean " + strconv.FormatBool(n.Bool)
	case KindNull:
		return "null"
	}
	return article(n.Kind.String())
}

func (sv *schemaValidation) leaf(ve *jsonschema.ValidationError) {
	at := ve.InstanceLocation
	n, _ := sv.root.Locate(at)
	field := fieldPath(at)
	frag := schemaFragment(ve.AbsoluteKeywordLocation)
	sch, _ := validatorAt(parentPointer(frag))
	schMap, _ := sch.(map[string]any)
	f := finding{Severity: SeverityError, Code: "A-TYPES", Stage: StageSchema, Pointer: at}
	f.Start, f.End = valueSpan(sv.root, at)
	switch keyword(ve) {
	case "type":
		t, _ := validatorAt(frag)
		f.Message = fmt.Sprintf("`%s`: expected %s, found %s", field, describeTypes(typeNames(t)), describeNode(n))
		if n != nil && n.Kind == KindString {
			if b, ok := yaml11Bool(n.Str); ok && contains(typeNames(t), "boolean") {
				f.Message += fmt.Sprintf(" (YAML 1.1 booleans are not booleans here: write %t)", b)
				f.Suggestion = strconv.FormatBool(b)
			}
		}
	case "additionalProperties":
		sv.unknownKeys(at, n, schMap)
		return
	case "enum", "const":
		vals := enumValues(schMap)
		got := describeNode(n)
		if n != nil && n.Kind == KindString {
			got = "`" + n.Str + "`"
		}
		f.Message = fmt.Sprintf("`%s`: unknown value %s, expected one of: %s", field, got, quoteList(vals))
		if n != nil && n.Kind == KindString {
			f.Suggestion = suggest(n.Str, vals)
			if f.Suggestion != "" {
				f.Message += fmt.Sprintf(" (did you mean `%s`?)", f.Suggestion)
			}
		}
	case "required":
		var missing []string
		req, _ := schMap["required"].([]any)
		for _, r := range req {
			if k, ok := r.(string); ok {
				if _, has := n.Get(k); !has {
					missing = append(missing, k)
				}
			}
		}
		f.Code = "A-REQUIRED"
		f.Message = fmt.Sprintf("`%s`: missing required field %s", field, quoteList(missing))
		if len(missing) > 1 {
			f.Message = fmt.Sprintf("`%s`: missing required fields %s", field, quoteList(missing))
		}
	case "minimum", "maximum":
		lo, hi := schMap["minimum"], schMap["maximum"]
		what := "an integer"
		if lo != nil && hi != nil {
			what = fmt.Sprintf("an integer from %v to %v", lo, hi)
		} else if lo != nil {
			what = fmt.Sprintf("an integer of at least %v", lo)
		}
		f.Message = fmt.Sprintf("`%s`: %s is out of range, expected %s", field, n.Str, what)
	case "format":
		f.Message = fmt.Sprintf("`%s`: %s is not a valid %s", field, describeNode(n), fmt.Sprint(schMap["format"]))
		if schMap["format"] == "ip" {
			f.Message = fmt.Sprintf("`%s`: %s is not an IP address", field, describeNode(n))
		}
	case "minProperties", "maxProperties":
		if _, ok := schMap["properties"].(map[string]any)["remote"]; ok {
			f.Code = "A-OUTFILTER-SHAPE"
			f.Message = fmt.Sprintf("`%s` must contain exactly one of `remote` or `local`", field)
		} else if _, ok := schMap["properties"].(map[string]any)["pod"]; ok {
			f.Code = "A-REQUIRED"
			f.Message = fmt.Sprintf("`%s`: a target object needs a kind key (one of pod, deployment, rollout, job, cron_job, stateful_set, service, replica_set, labels)", field)
		} else {
			f.Message = fmt.Sprintf("`%s`: an empty object is not allowed here", field)
		}
	case "minItems", "maxItems", "items", "prefixItems":
		if keyword(ve) == "items" {
			if b, ok := schMap["items"].(bool); ok && !b {
				// items: false reports each extra item; report the pair once.
				f.Pointer = parentPointer(at)
				f.Start, f.End = valueSpan(sv.root, f.Pointer)
				field = fieldPath(f.Pointer)
			}
		}
		f.Message = fmt.Sprintf("`%s`: expected a pair of ports [local, remote]", field)
	default:
		f.Message = fmt.Sprintf("`%s`: %s", field, ve.Message)
	}
	sv.out = append(sv.out, f)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func yaml11Bool(s string) (bool, bool) {
	switch s {
	case "yes", "Yes", "YES", "on", "On", "ON", "y", "Y":
		return true, true
	case "no", "No", "NO", "off", "Off", "OFF", "n", "N":
		return false, true
	}
	return false, false
}

func enumValues(sch map[string]any) []string {
	var out []string
	if e, ok := sch["enum"].([]any); ok {
		for _, v := range e {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	if c, ok := sch["const"].(string); ok {
		out = append(out, c)
	}
	return out
}

// unknownKeys reports each key of an object that its schema does not name,
// with the key's own range and a did-you-mean.
func (sv *schemaValidation) unknownKeys(at string, n *Node, sch map[string]any) {
	props, _ := sch["properties"].(map[string]any)
	known := make([]string, 0, len(props))
	for k := range props {
		known = append(known, k)
	}
	sort.Strings(known)
	if n == nil {
		return
	}
	for i := range n.Members {
		m := &n.Members[i]
		if _, ok := props[m.Key]; ok {
			continue
		}
		ptr := Pointer(at, m.Key)
		f := finding{Severity: SeverityError, Code: "A-UNKNOWN", Stage: StageSchema, Pointer: ptr, Start: m.KeyStart, End: m.KeyEnd}
		where := "`" + fieldPath(at) + "`"
		if at == "" {
			where = "the config root"
		}
		f.Message = fmt.Sprintf("unknown field `%s` in %s, expected one of: %s", m.Key, where, strings.Join(known, ", "))
		if len(known) > 12 {
			f.Message = fmt.Sprintf("unknown field `%s` in %s (%d fields are allowed there; `mirrord schema` lists them)", m.Key, where, len(known))
		}
		if len(known) == 0 {
			f.Message = fmt.Sprintf("unknown field `%s` in %s: no fields are allowed here", m.Key, where)
		}
		if at == "/target" || at == "/target/path" {
			if _, kind := props["pod"]; kind && (m.Key == "namespace" || m.Key == "path") {
				f.Message = fmt.Sprintf("`%s` cannot stand next to a target kind key; write {\"path\": {\"pod\": ...}, \"namespace\": ...}", m.Key)
			}
		}
		if at == "/jira" && jiraCredentialKey(m.Key) {
			f.Message = fmt.Sprintf("unknown field `%s` in `jira`: %s", m.Key, jiraCredentialsHint)
			sv.out = append(sv.out, f)
			continue
		}
		if s := suggest(m.Key, known); s != "" {
			f.Suggestion = s
			f.Message += fmt.Sprintf(" (did you mean `%s`?)", s)
		}
		sv.out = append(sv.out, f)
	}
}
