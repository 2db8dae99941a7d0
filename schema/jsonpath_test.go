package schema

import "testing"

func TestCheckJSONPath(t *testing.T) {
	valid := []string{
		"$", "$.a", "$.a.b", "$['a']", `$["a b"]`, "$.*", "$[*]", "$..a", "$..*", "$..[0]",
		"$[0]", "$[-1]", "$[0,1]", "$[1:3]", "$[:2]", "$[::2]", "$[-2:]", "$[1:5:2]",
		"$.user.id", "$.items[?@.price < 10]", "$[?@.a == 'x' && @.b != 2]", "$[?(@.a || !@.b)]",
		"$[?@.tags]", "$[?!@.tags]", "$[?length(@.name) > 3]", "$[?match(@.name, 'a.*')]",
		"$[?search(@.name, 'x')]", "$[?count(@.*) == 1]", "$[?value(@..x) == 1]", "$[?typeof(@.id) == 'number']",
		"$.user[?@.id > 10].name", "$[?@.a == -0.5e3]", "$[?@.a == true]", "$[?@.a == null]", "$.ünïcode",
		"$[ 'a' , 'b' ]", "$['a\\'b']", `$["\u00e9"]`, "$[?@.a==$.b]",
	}
	for _, q := range valid {
		if err := CheckJSONPath(q); err != nil {
			t.Errorf("CheckJSONPath(%q) = %v, want valid", q, err)
		}
	}
	invalid := []string{
		"", "user.id", "$.", "$..", "$[", "$[]", "$[0", "$['a]", "$[01]", "$[-0]", "$.a b", "$[?@.a = 1]",
		"$[?'x']", "$[?foo(@.a)]", "$[?length(@.a, 1)]", "$[?(@.a]", "$.1a", "$['\\q']", "$[?@.a == 1.]",
		"$[?match(@.a)]", "$ x",
	}
	for _, q := range invalid {
		if err := CheckJSONPath(q); err == nil {
			t.Errorf("CheckJSONPath(%q) = nil, want an error", q)
		}
	}
}

// FuzzCheckJSONPath: the JSONPath checker never panics and terminates.
func FuzzCheckJSONPath(f *testing.F) {
	for _, s := range []string{"$", "$.a[?@.b > 1 && match(@.c, 'x')]", "$..[1:2:3]", "$[?((((@.a))))]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = CheckJSONPath(s)
	})
}
