package schema

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// nodeDecoder is implemented by file-model types that decode themselves
// (shorthand unions and Opt).
type nodeDecoder interface {
	decodeNode(d *decoder, n *Node, ptr string)
}

var nodeDecoderType = reflect.TypeFor[nodeDecoder]()

// decoder fills the file model from a Node tree. It never fails: a value
// of the wrong shape is left unset and recorded in bad. The JSON Schema
// reports such values to the user; bad is a safety net for places where
// the schema and the Go model disagree.
type decoder struct {
	bad []finding
}

func (d *decoder) mismatch(n *Node, ptr, want string) {
	d.bad = append(d.bad, finding{
		Severity: SeverityError, Code: "A-TYPES", Stage: StageSchema, Pointer: ptr,
		Message: fmt.Sprintf("`%s`: expected %s, found %s", fieldPath(ptr), want, describeNode(n)),
		Start:   n.Start, End: n.End,
	})
}

// typePlan is what the decoder needs to know about one Go type.
type typePlan struct {
	decodes bool        // *T implements nodeDecoder
	fields  []fieldPlan // json-named fields of a struct
	open    bool        // the struct accepts unknown keys
}

type fieldPlan struct {
	index int
	name  string
}

func planOf(t reflect.Type) *typePlan {
	p := &typePlan{decodes: reflect.PointerTo(t).Implements(nodeDecoderType)}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Tag.Get("schema") == "open" {
				p.open = true
				continue
			}
			if name := jsonName(f); name != "" {
				p.fields = append(p.fields, fieldPlan{index: i, name: name})
			}
		}
	}
	return p
}

// plans holds the plan of every type reachable from FileConfig. It is
// built once, on first use, and never changed.
var plans = sync.OnceValue(func() map[reflect.Type]*typePlan {
	m := map[reflect.Type]*typePlan{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		if _, ok := m[t]; ok {
			return
		}
		m[t] = planOf(t)
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				walk(t.Field(i).Type)
			}
		}
	}
	walk(reflect.TypeFor[FileConfig]())
	return m
})

func planFor(t reflect.Type) *typePlan {
	if p, ok := plans()[t]; ok {
		return p
	}
	return planOf(t)
}

func (d *decoder) value(v reflect.Value, n *Node, ptr string) {
	if v.CanAddr() && planFor(v.Type()).decodes {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, ptr)
		return
	}
	if n.Kind == KindNull {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		if n.Kind != KindBool {
			d.mismatch(n, ptr, "a boolean")
			return
		}
		v.SetBool(n.Bool)
	case reflect.String:
		if n.Kind != KindString {
			d.mismatch(n, ptr, "a string")
			return
		}
		v.SetString(n.Str)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Str, 10, v.Type().Bits())
		if n.Kind != KindNumber || err != nil {
			d.mismatch(n, ptr, fmt.Sprintf("an integer (%d-bit)", v.Type().Bits()))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Str, 10, v.Type().Bits())
		if n.Kind != KindNumber || err != nil {
			d.mismatch(n, ptr, fmt.Sprintf("an integer from 0 to %d", uint64(math.MaxUint64)>>(64-v.Type().Bits())))
			return
		}
		v.SetUint(u)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Str, 64)
		if n.Kind != KindNumber || err != nil {
			d.mismatch(n, ptr, "a number")
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != KindArray {
			d.mismatch(n, ptr, "an array")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Items), len(n.Items))
		for i, it := range n.Items {
			d.value(s.Index(i), it, PointerIndex(ptr, i))
		}
		v.Set(s)
	case reflect.Array:
		if n.Kind != KindArray || len(n.Items) != v.Len() {
			d.mismatch(n, ptr, fmt.Sprintf("an array of %d items", v.Len()))
			return
		}
		for i, it := range n.Items {
			d.value(v.Index(i), it, PointerIndex(ptr, i))
		}
	case reflect.Map:
		if n.Kind != KindObject {
			d.mismatch(n, ptr, "an object")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Members))
		for _, mb := range n.Members {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(ev, mb.Value, Pointer(ptr, mb.Key))
			m.SetMapIndex(reflect.ValueOf(mb.Key), ev)
		}
		v.Set(m)
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.value(e.Elem(), n, ptr)
		v.Set(e)
	case reflect.Interface:
		v.Set(reflect.ValueOf(n.Any()))
	case reflect.Struct:
		d.object(v, n, ptr)
	default:
		d.mismatch(n, ptr, v.Type().String())
	}
}

// object decodes a struct whose fields carry json tags.
func (d *decoder) object(v reflect.Value, n *Node, ptr string) {
	if n.Kind != KindObject {
		d.mismatch(n, ptr, "an object")
		return
	}
	plan := planFor(v.Type())
	for _, m := range n.Members {
		found := false
		for _, f := range plan.fields {
			if f.name == m.Key {
				d.value(v.Field(f.index), m.Value, Pointer(ptr, m.Key))
				found = true
				break
			}
		}
		if !found && !plan.open {
			d.bad = append(d.bad, finding{
				Severity: SeverityError, Code: "A-UNKNOWN", Stage: StageSchema, Pointer: Pointer(ptr, m.Key),
				Message: fmt.Sprintf("unknown field `%s` in `%s`", m.Key, fieldPath(ptr)),
				Start:   m.KeyStart, End: m.KeyEnd,
			})
		}
	}
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "" || tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	return name
}

// refOf returns the addressable reflect.Value of *p.
func refOf[T any](p *T) reflect.Value { return reflect.ValueOf(p).Elem() }
