package schema

import (
	"strconv"
	"strings"
)

// Kind is the JSON kind of a parsed value.
type Kind uint8

// The value kinds of the format-independent document tree.
const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
	KindObject
	KindArray
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindObject:
		return "object"
	case KindArray:
		return "array"
	}
	return "unknown"
}

// Node is one value of a parsed config document (JSON, YAML or TOML), with
// the byte span it occupies in the parsed (rendered) text. It is the first
// layer of the config model: every value keeps where it came from.
type Node struct {
	Kind Kind
	Bool bool
	// Str is the string value, or the number literal in JSON syntax
	// (e.g. "42", "-1.5e3") for numbers.
	Str     string
	Members []Member // objects, in document order
	Items   []*Node  // arrays
	// Start and End are byte offsets of the value in the parsed text.
	Start, End int
}

// Member is one key of an object.
type Member struct {
	Key              string
	KeyStart, KeyEnd int // byte span of the key in the parsed text
	Value            *Node
}

// Get returns the member with the given key.
func (n *Node) Get(key string) (*Member, bool) {
	if n == nil || n.Kind != KindObject {
		return nil, false
	}
	for i := range n.Members {
		if n.Members[i].Key == key {
			return &n.Members[i], true
		}
	}
	return nil, false
}

// keySet answers "is this key already a member of the object being
// built?" in constant time however many members there are (Get is a
// linear search: calling it per member made parsing quadratic in the size
// of an object). The zero value is ready; an object's members must only be
// added after has said false.
type keySet struct{ m map[string]struct{} }

// has reports whether key is among the members of n, and records it when it
// is not (the caller then adds it).
func (s *keySet) has(key string, n *Node) bool {
	const small = 8
	if s.m == nil {
		if len(n.Members) < small {
			_, dup := n.Get(key)
			return dup
		}
		s.m = make(map[string]struct{}, 2*len(n.Members))
		for _, mb := range n.Members {
			s.m[mb.Key] = struct{}{}
		}
	}
	if _, dup := s.m[key]; dup {
		return true
	}
	s.m[key] = struct{}{}
	return false
}

// Int returns an integer number's value.
func (n *Node) Int() (int64, bool) {
	if n == nil || n.Kind != KindNumber {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Str, 10, 64)
	return v, err == nil
}

// Uint returns a non-negative integer number's value.
func (n *Node) Uint() (uint64, bool) {
	if n == nil || n.Kind != KindNumber {
		return 0, false
	}
	v, err := strconv.ParseUint(n.Str, 10, 64)
	return v, err == nil
}

// Any converts the tree to plain Go values (map[string]any, []any, string,
// bool, nil and json.Number-compatible numbers) as encoding/json would.
func (n *Node) Any() any {
	switch n.Kind {
	case KindBool:
		return n.Bool
	case KindNumber:
		return jsonNumber(n.Str)
	case KindString:
		return n.Str
	case KindObject:
		m := make(map[string]any, len(n.Members))
		for _, mb := range n.Members {
			m[mb.Key] = mb.Value.Any()
		}
		return m
	case KindArray:
		a := make([]any, len(n.Items))
		for i, it := range n.Items {
			a[i] = it.Any()
		}
		return a
	}
	return nil
}

// Locate finds the node at a JSON pointer. It also returns the member whose
// value it is (nil for the root and array items).
func (n *Node) Locate(pointer string) (*Node, *Member) {
	cur := n
	var mem *Member
	if pointer == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = unescapePointer(tok)
		switch cur.Kind {
		case KindObject:
			m, ok := cur.Get(tok)
			if !ok {
				return cur, mem
			}
			mem, cur = m, m.Value
		case KindArray:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.Items) {
				return cur, mem
			}
			mem, cur = nil, cur.Items[i]
		default:
			return cur, mem
		}
	}
	return cur, mem
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
var pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

func escapePointer(s string) string   { return pointerEscaper.Replace(s) }
func unescapePointer(s string) string { return pointerUnescaper.Replace(s) }

// Pointer joins a parent JSON pointer with a key or index.
func Pointer(parent string, key string) string { return parent + "/" + escapePointer(key) }

// PointerIndex joins a parent JSON pointer with an array index.
func PointerIndex(parent string, i int) string { return parent + "/" + strconv.Itoa(i) }
