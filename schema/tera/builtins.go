package tera

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// param is a keyword argument of a function or filter.
type param struct {
	name     string
	required bool
}

type function struct {
	doc    Doc
	params []param
	call   func(rt *runtime, args map[string]any) (any, error)
}

type filter struct {
	doc    Doc
	params []param
	call   func(v any, args map[string]any) (any, error)
}

type test struct {
	doc   Doc
	nargs int // number of positional arguments
	call  func(v any, defined bool, args []any) (bool, error)
}

func req(name string) param { return param{name, true} }
func opt(name string) param { return param{name, false} }

var functions map[string]function
var filters map[string]filter
var tests map[string]test

func init() {
	functions = map[string]function{
		"get_env": {Doc{"get_env", `get_env(name="VAR", default=...)`,
			"The value of the environment variable `name`. Without `default`, a missing variable is an error; `default` can be any value and is returned unchanged."},
			[]param{req("name"), opt("default")}, fnGetEnv},
		"range": {Doc{"range", "range(end=N, start=0, step_by=1)",
			"An array of integers from `start` (inclusive) to `end` (exclusive)."},
			[]param{req("end"), opt("start"), opt("step_by")}, fnRange},
		"now": {Doc{"now", "now(timestamp=false, utc=false)",
			"The current local date and time as an RFC 3339 string, or the Unix timestamp when `timestamp=true`; `utc=true` uses UTC."},
			[]param{opt("timestamp"), opt("utc")}, fnNow},
		"get_random": {Doc{"get_random", "get_random(start=0, end=N)",
			"A random integer in [start, end)."},
			[]param{opt("start"), req("end")}, fnGetRandom},
		"throw": {Doc{"throw", `throw(message="...")`,
			"Stops rendering with the given error message."},
			[]param{req("message")}, fnThrow},
	}
	filters = map[string]filter{
		"default": {Doc{"default", `default(value=...)`,
			"`value` when the variable is undefined or null. Must be the first filter after a variable."},
			[]param{req("value")}, func(v any, _ map[string]any) (any, error) { return v, nil }},
		"safe": {Doc{"safe", "safe", "Marks the value as safe. Has no effect: config templates are never escaped."},
			nil, func(v any, _ map[string]any) (any, error) { return v, nil }},
		"upper":      strFilter("upper", "Converts to upper case.", strings.ToUpper),
		"lower":      strFilter("lower", "Converts to lower case.", strings.ToLower),
		"trim":       strFilter("trim", "Removes leading and trailing whitespace.", func(s string) string { return strings.TrimFunc(s, unicode.IsSpace) }),
		"trim_start": strFilter("trim_start", "Removes leading whitespace.", func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }),
		"trim_end":   strFilter("trim_end", "Removes trailing whitespace.", func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }),
		"trim_start_matches": {Doc{"trim_start_matches", `trim_start_matches(pat="...")`, "Removes every leading occurrence of `pat`."},
			[]param{req("pat")}, withStringArg("pat", func(s, pat string) any {
				for pat != "" && strings.HasPrefix(s, pat) {
					s = s[len(pat):]
				}
				return s
			})},
		"trim_end_matches": {Doc{"trim_end_matches", `trim_end_matches(pat="...")`, "Removes every trailing occurrence of `pat`."},
			[]param{req("pat")}, withStringArg("pat", func(s, pat string) any {
				for pat != "" && strings.HasSuffix(s, pat) {
					s = s[:len(s)-len(pat)]
				}
				return s
			})},
		"truncate": {Doc{"truncate", `truncate(length=255, end="…")`, "Cuts the string to `length` characters and appends `end` if it was cut."},
			[]param{opt("length"), opt("end")}, filterTruncate},
		"wordcount": {Doc{"wordcount", "wordcount", "The number of words."}, nil, func(v any, _ map[string]any) (any, error) {
			s, err := wantString(v)
			return int64(len(strings.Fields(s))), err
		}},
		"replace": {Doc{"replace", `replace(from="a", to="b")`, "Replaces every occurrence of `from` by `to`."},
			[]param{req("from"), req("to")}, filterReplace},
		"capitalize": strFilter("capitalize", "Upper-cases the first character and lower-cases the rest.", capitalize),
		"title":      strFilter("title", "Capitalizes the first letter of every word.", title),
		"linebreaksbr": strFilter("linebreaksbr", "Replaces line breaks by `<br>`.", func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "<br>"), "\n", "<br>")
		}),
		"indent": {Doc{"indent", `indent(prefix="    ", first=false, blank=false)`, "Indents every line but the first (all with `first=true`) with `prefix`; blank lines only with `blank=true`."},
			[]param{opt("prefix"), opt("first"), opt("blank")}, filterIndent},
		"striptags": strFilter("striptags", "Removes HTML tags.", func(s string) string { return tagRe.ReplaceAllString(s, "") }),
		"spaceless": strFilter("spaceless", "Removes whitespace between HTML tags.", func(s string) string { return spacelessRe.ReplaceAllString(s, "><") }),
		"urlencode": strFilter("urlencode", "Percent-encodes the string for a URL path (`/` is kept).", func(s string) string {
			return percentEncode(s, "/")
		}),
		"urlencode_strict": strFilter("urlencode_strict", "Percent-encodes every character except ASCII letters, digits, and `-_.~`.", func(s string) string {
			return percentEncode(s, "")
		}),
		"escape":     strFilter("escape", "Escapes HTML (& < > \" ' /).", htmlEscaper.Replace),
		"escape_xml": strFilter("escape_xml", "Escapes XML (& < > \" ').", xmlEscaper.Replace),
		"slugify":    strFilter("slugify", "Lower-case ASCII letters and digits joined by `-`.", slugify),
		"addslashes": strFilter("addslashes", `Puts a backslash before \ ' and ".`, func(s string) string {
			return strings.NewReplacer(`\`, `\\`, `'`, `\'`, `"`, `\"`).Replace(s)
		}),
		"split": {Doc{"split", `split(pat=",")`, "Splits the string at every `pat` into an array."},
			[]param{req("pat")}, withStringArg("pat", func(s, pat string) any {
				if n := strings.Count(s, pat) + 1; n > maxListLen {
					return fmt.Errorf("the result would have %d items, more than the limit of %d", n, maxListLen)
				}
				parts := strings.Split(s, pat)
				out := make([]any, len(parts))
				for i, p := range parts {
					out[i] = p
				}
				return out
			})},
		"int": {Doc{"int", "int(default=0, base=10)", "Converts a string or number to an integer; `default` when it cannot."},
			[]param{opt("default"), opt("base")}, filterInt},
		"float": {Doc{"float", "float(default=0.0)", "Converts a string or number to a float; `default` when it cannot."},
			[]param{opt("default")}, filterFloat},
		"first": {Doc{"first", "first", "The first item of an array (nothing if empty)."}, nil, func(v any, _ map[string]any) (any, error) {
			a, err := wantArray(v)
			if err != nil || len(a) == 0 {
				return nil, err
			}
			return a[0], nil
		}},
		"last": {Doc{"last", "last", "The last item of an array (nothing if empty)."}, nil, func(v any, _ map[string]any) (any, error) {
			a, err := wantArray(v)
			if err != nil || len(a) == 0 {
				return nil, err
			}
			return a[len(a)-1], nil
		}},
		"nth":  {Doc{"nth", "nth(n=0)", "The n-th item (0-based) of an array (nothing if out of range)."}, []param{req("n")}, filterNth},
		"join": {Doc{"join", `join(sep=",")`, "Joins the items of an array with `sep`."}, []param{opt("sep")}, filterJoin},
		"sort": {Doc{"sort", `sort(attribute="a.b")`, "Sorts an array of numbers, strings or bools (by `attribute` for objects)."}, []param{opt("attribute")}, filterSort},
		"unique": {Doc{"unique", `unique(attribute="a", case_sensitive=false)`, "Removes duplicates, keeping the first occurrence."},
			[]param{opt("attribute"), opt("case_sensitive")}, filterUnique},
		"slice":    {Doc{"slice", "slice(start=0, end=N)", "A part of an array; negative indexes count from the end."}, []param{opt("start"), opt("end")}, filterSlice},
		"group_by": {Doc{"group_by", `group_by(attribute="a")`, "Groups the objects of an array by an attribute into an object of arrays."}, []param{req("attribute")}, filterGroupBy},
		"filter": {Doc{"filter", `filter(attribute="a", value=...)`, "Keeps the objects whose `attribute` equals `value` (or is not null without `value`)."},
			[]param{req("attribute"), opt("value")}, filterFilter},
		"map":    {Doc{"map", `map(attribute="a")`, "The `attribute` of every object of an array."}, []param{req("attribute")}, filterMap},
		"concat": {Doc{"concat", "concat(with=...)", "Appends a value, or the items of an array, to an array."}, []param{req("with")}, filterConcat},
		"abs": {Doc{"abs", "abs", "The absolute value of a number."}, nil, func(v any, _ map[string]any) (any, error) {
			switch n := v.(type) {
			case int64:
				if n == math.MinInt64 {
					return nil, errors.New("the absolute value does not fit a 64-bit integer")
				}
				if n < 0 {
					return -n, nil
				}
				return n, nil
			case float64:
				return math.Abs(n), nil
			}
			return nil, wrongType(v, "a number")
		}},
		"pluralize": {Doc{"pluralize", `pluralize(singular="", plural="s")`, "`singular` if the number is 1 (or -1), `plural` otherwise."},
			[]param{opt("singular"), opt("plural")}, filterPluralize},
		"round": {Doc{"round", `round(method="common", precision=0)`, "Rounds a number (`common`, `ceil` or `floor`) to `precision` decimals."},
			[]param{opt("method"), opt("precision")}, filterRound},
		"filesizeformat": {Doc{"filesizeformat", "filesizeformat(binary=false)", "A byte count in human units (kB, MB, ... or KiB, MiB with `binary=true`)."},
			[]param{opt("binary")}, filterFilesize},
		"length": {Doc{"length", "length", "The number of items of an array or object, or characters of a string."}, nil, func(v any, _ map[string]any) (any, error) {
			switch x := v.(type) {
			case []any:
				return int64(len(x)), nil
			case map[string]any:
				return int64(len(x)), nil
			case string:
				return int64(utf8.RuneCountInString(x)), nil
			}
			return nil, wrongType(v, "an array, an object or a string")
		}},
		"reverse": {Doc{"reverse", "reverse", "Reverses a string or an array."}, nil, func(v any, _ map[string]any) (any, error) {
			switch x := v.(type) {
			case []any:
				out := make([]any, len(x))
				for i, e := range x {
					out[len(x)-1-i] = e
				}
				return out, nil
			case string:
				r := []rune(x)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				return string(r), nil
			}
			return nil, wrongType(v, "an array or a string")
		}},
		"date": {Doc{"date", `date(format="%Y-%m-%d", timezone="UTC")`, "Formats a Unix timestamp or an RFC 3339 string with strftime-style `format`."},
			[]param{opt("format"), opt("timezone")}, filterDate},
		"json_encode": {Doc{"json_encode", "json_encode(pretty=false)", "The value as JSON. Combine with `safe` for structured values."},
			[]param{opt("pretty")}, func(v any, args map[string]any) (any, error) {
				pretty, err := boolArg(args, "pretty", false)
				if err != nil {
					return nil, err
				}
				return jsonEncode(v, pretty)
			}},
		"as_str": {Doc{"as_str", "as_str", "The value printed as a string."}, nil, func(v any, _ map[string]any) (any, error) { return printValue(v), nil }},
		"get": {Doc{"get", `get(key="k", default=...)`, "The value of `key` in an object; `default` (or an error) when it is missing."},
			[]param{req("key"), opt("default")}, filterGet},
	}
	tests = map[string]test{
		"defined":   {Doc{"defined", "is defined", "The variable exists."}, 0, func(_ any, d bool, _ []any) (bool, error) { return d, nil }},
		"undefined": {Doc{"undefined", "is undefined", "The variable does not exist."}, 0, func(_ any, d bool, _ []any) (bool, error) { return !d, nil }},
		"odd": {Doc{"odd", "is odd", "The number is odd."}, 0, func(v any, d bool, _ []any) (bool, error) {
			n, err := testInt(v, d)
			return n%2 != 0, err
		}},
		"even": {Doc{"even", "is even", "The number is even."}, 0, func(v any, d bool, _ []any) (bool, error) {
			n, err := testInt(v, d)
			return n%2 == 0, err
		}},
		"string": {Doc{"string", "is string", "The value is a string."}, 0, func(v any, d bool, _ []any) (bool, error) {
			_, ok := v.(string)
			return d && ok, nil
		}},
		"number": {Doc{"number", "is number", "The value is a number."}, 0, func(v any, d bool, _ []any) (bool, error) { return d && isNumber(v), nil }},
		"iterable": {Doc{"iterable", "is iterable", "The value is an array or an object."}, 0, func(v any, d bool, _ []any) (bool, error) {
			switch v.(type) {
			case []any, map[string]any:
				return d, nil
			}
			return false, nil
		}},
		"object": {Doc{"object", "is object", "The value is an object."}, 0, func(v any, d bool, _ []any) (bool, error) {
			_, ok := v.(map[string]any)
			return d && ok, nil
		}},
		"divisibleby": {Doc{"divisibleby", "is divisibleby(n)", "The number is a multiple of n."}, 1, func(v any, d bool, args []any) (bool, error) {
			n, err := testInt(v, d)
			if err != nil {
				return false, err
			}
			m, ok := args[0].(int64)
			if !ok || m == 0 {
				return false, errors.New("the argument must be a non-zero integer")
			}
			return n%m == 0, nil
		}},
		"starting_with": {Doc{"starting_with", `is starting_with("prefix")`, "The string starts with the argument."}, 1, stringTest(strings.HasPrefix)},
		"ending_with":   {Doc{"ending_with", `is ending_with("suffix")`, "The string ends with the argument."}, 1, stringTest(strings.HasSuffix)},
		"containing": {Doc{"containing", `is containing(x)`, "The string contains the substring, the array the item, or the object the key."}, 1, func(v any, d bool, args []any) (bool, error) {
			if !d {
				return false, errors.New("the value is undefined")
			}
			return contains(v, args[0])
		}},
		"matching": {Doc{"matching", `is matching("regex")`, "The string matches the regular expression."}, 1, func(v any, d bool, args []any) (bool, error) {
			s, ok := v.(string)
			pat, ok2 := args[0].(string)
			if !d || !ok || !ok2 {
				return false, errors.New("`matching` needs a string and a regular expression string")
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return false, fmt.Errorf("invalid regular expression: %w", err)
			}
			return re.MatchString(s), nil
		}},
	}
}

func functionNames() []string { return sortedNames(functions) }
func filterNames() []string   { return sortedNames(filters) }
func testNames() []string     { return sortedNames(tests) }

func sortedNames[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Functions lists the supported template functions, by name.
func Functions() []Doc { return docs(functions, func(f function) Doc { return f.doc }) }

// Filters lists the supported filters, by name.
func Filters() []Doc { return docs(filters, func(f filter) Doc { return f.doc }) }

// Tests lists the supported tests (`x is NAME`), by name.
func Tests() []Doc { return docs(tests, func(t test) Doc { return t.doc }) }

func docs[T any](m map[string]T, doc func(T) Doc) []Doc {
	out := make([]Doc, 0, len(m))
	for _, name := range sortedNames(m) {
		out = append(out, doc(m[name]))
	}
	return out
}

// Argument helpers.

func wrongType(v any, want string) error {
	return fmt.Errorf("expected %s, got %s", want, typeName(v))
}

func wantString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", wrongType(v, "a string")
	}
	return s, nil
}

func wantArray(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, wrongType(v, "an array")
	}
	return a, nil
}

func stringArg(args map[string]any, name string, def string, required bool) (string, error) {
	v, ok := args[name]
	if !ok {
		if required {
			return "", fmt.Errorf("argument `%s` is required", name)
		}
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument `%s` must be a string, got %s", name, typeName(v))
	}
	return s, nil
}

func intArg(args map[string]any, name string, def int64, required bool) (int64, error) {
	v, ok := args[name]
	if !ok {
		if required {
			return 0, fmt.Errorf("argument `%s` is required", name)
		}
		return def, nil
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
	}
	return 0, fmt.Errorf("argument `%s` must be an integer, got %s", name, printValue(v))
}

func boolArg(args map[string]any, name string, def bool) (bool, error) {
	v, ok := args[name]
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("argument `%s` must be true or false, got %s", name, typeName(v))
	}
	return b, nil
}

func strFilter(name, desc string, fn func(string) string) filter {
	return filter{Doc{name, name, desc}, nil, func(v any, _ map[string]any) (any, error) {
		s, err := wantString(v)
		if err != nil {
			return nil, err
		}
		return fn(s), nil
	}}
}

func withStringArg(arg string, fn func(s, a string) any) func(any, map[string]any) (any, error) {
	return func(v any, args map[string]any) (any, error) {
		s, err := wantString(v)
		if err != nil {
			return nil, err
		}
		a, err := stringArg(args, arg, "", true)
		if err != nil {
			return nil, err
		}
		r := fn(s, a)
		if err, ok := r.(error); ok {
			return nil, err
		}
		return r, nil
	}
}

func stringTest(fn func(s, a string) bool) func(any, bool, []any) (bool, error) {
	return func(v any, d bool, args []any) (bool, error) {
		s, ok := v.(string)
		a, ok2 := args[0].(string)
		if !d || !ok || !ok2 {
			return false, errors.New("needs a string value and a string argument")
		}
		return fn(s, a), nil
	}
}

func testInt(v any, defined bool) (int64, error) {
	if !defined {
		return 0, errors.New("the value is undefined")
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
			return int64(n), nil
		}
	}
	return 0, wrongType(v, "an integer")
}

// Functions.

func fnGetEnv(rt *runtime, args map[string]any) (any, error) {
	name, err := stringArg(args, "name", "", true)
	if err != nil {
		return nil, err
	}
	if v, ok := rt.env(name); ok {
		return v, nil
	}
	if d, ok := args["default"]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("environment variable `%s` is not set; add `default=\"…\"` to use a value when it is missing", name)
}

func fnRange(_ *runtime, args map[string]any) (any, error) {
	end, err := intArg(args, "end", 0, true)
	if err != nil {
		return nil, err
	}
	start, err := intArg(args, "start", 0, false)
	if err != nil {
		return nil, err
	}
	step, err := intArg(args, "step_by", 1, false)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, errors.New("`step_by` must be at least 1")
	}
	if start > end {
		return nil, errors.New("`start` is greater than `end`")
	}
	n := (uint64(end-start) + uint64(step) - 1) / uint64(step)
	if n > maxListLen {
		return nil, fmt.Errorf("the range has %d numbers, more than the limit of %d", n, maxListLen)
	}
	out := make([]any, 0, n)
	for i := uint64(0); i < n; i++ {
		out = append(out, start+int64(i)*step)
	}
	return out, nil
}

func fnNow(_ *runtime, args map[string]any) (any, error) {
	ts, err := boolArg(args, "timestamp", false)
	if err != nil {
		return nil, err
	}
	utc, err := boolArg(args, "utc", false)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	if ts {
		return t.Unix(), nil
	}
	if utc {
		t = t.UTC()
	}
	return t.Format(time.RFC3339Nano), nil
}

func fnGetRandom(_ *runtime, args map[string]any) (any, error) {
	start, err := intArg(args, "start", 0, false)
	if err != nil {
		return nil, err
	}
	end, err := intArg(args, "end", 0, true)
	if err != nil {
		return nil, err
	}
	if start >= end {
		return nil, errors.New("`start` must be less than `end`")
	}
	span := uint64(end - start)
	return start + int64(rand.Uint64N(span)), nil
}

func fnThrow(_ *runtime, args map[string]any) (any, error) {
	msg, err := stringArg(args, "message", "", true)
	if err != nil {
		return nil, err
	}
	return nil, errors.New(msg)
}

// Filters.

var (
	tagRe       = regexp.MustCompile(`(?s)<!--.*?-->|<[^>]*>`)
	spacelessRe = regexp.MustCompile(`>\s+<`)
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "/", "&#x2F;")
	xmlEscaper  = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
)

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

func isWordRune(r rune) bool {
	return r == '_' || r == '\'' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func title(s string) string {
	var b strings.Builder
	inWord := false
	for _, r := range s {
		switch {
		case !isWordRune(r):
			inWord = false
			b.WriteRune(r)
		case !inWord:
			inWord = true
			b.WriteRune(unicode.ToUpper(r))
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

func percentEncode(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIILetter(c) || isDigit(c) || strings.IndexByte("-_.~", c) >= 0 || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func filterTruncate(v any, args map[string]any) (any, error) {
	s, err := wantString(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(args, "length", 255, false)
	if err != nil {
		return nil, err
	}
	end, err := stringArg(args, "end", "…", false)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, errors.New("`length` must not be negative")
	}
	if int64(utf8.RuneCountInString(s)) <= n {
		return s, nil
	}
	i := 0
	for k := int64(0); k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + end, nil
}

func filterReplace(v any, args map[string]any) (any, error) {
	s, err := wantString(v)
	if err != nil {
		return nil, err
	}
	from, err := stringArg(args, "from", "", true)
	if err != nil {
		return nil, err
	}
	to, err := stringArg(args, "to", "", true)
	if err != nil {
		return nil, err
	}
	if from != "" {
		if n := strings.Count(s, from); n > 0 && len(s)+n*(len(to)-len(from)) > maxStringLen {
			return nil, fmt.Errorf("the result would be longer than %d bytes", maxStringLen)
		}
	} else if (len(s)+1)*len(to)+len(s) > maxStringLen {
		return nil, fmt.Errorf("the result would be longer than %d bytes", maxStringLen)
	}
	return strings.ReplaceAll(s, from, to), nil
}

func filterIndent(v any, args map[string]any) (any, error) {
	s, err := wantString(v)
	if err != nil {
		return nil, err
	}
	prefix, err := stringArg(args, "prefix", "    ", false)
	if err != nil {
		return nil, err
	}
	first, err := boolArg(args, "first", false)
	if err != nil {
		return nil, err
	}
	blank, err := boolArg(args, "blank", false)
	if err != nil {
		return nil, err
	}
	if (strings.Count(s, "\n")+1)*len(prefix)+len(s) > maxStringLen {
		return nil, fmt.Errorf("the result would be longer than %d bytes", maxStringLen)
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for i, line := range lines {
		if (i > 0 || first) && (blank || strings.TrimSpace(line) != "") {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String(), nil
}

func filterInt(v any, args map[string]any) (any, error) {
	def, err := intArg(args, "default", 0, false)
	if err != nil {
		return nil, err
	}
	base, err := intArg(args, "base", 10, false)
	if err != nil {
		return nil, err
	}
	if base < 2 || base > 36 {
		return nil, errors.New("`base` must be between 2 and 36")
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.Abs(x) >= 1<<63 {
			return def, nil
		}
		return int64(x), nil
	case string:
		t := strings.TrimSpace(x)
		switch base {
		case 16:
			t = trimPrefixFold(t, "0x")
		case 8:
			t = trimPrefixFold(t, "0o")
		case 2:
			t = trimPrefixFold(t, "0b")
		}
		if n, err := strconv.ParseInt(t, int(base), 64); err == nil {
			return n, nil
		}
		if base == 10 {
			if f, err := strconv.ParseFloat(t, 64); err == nil && !math.IsNaN(f) && math.Abs(f) < 1<<63 {
				return int64(f), nil
			}
		}
		return def, nil
	}
	return nil, wrongType(v, "a string or a number")
}

func trimPrefixFold(s, prefix string) string {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}

func filterFloat(v any, args map[string]any) (any, error) {
	def := 0.0
	if d, ok := args["default"]; ok {
		f, ok := toFloat(d)
		if !ok {
			return nil, fmt.Errorf("argument `default` must be a number, got %s", typeName(d))
		}
		def = f
	}
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
		return def, nil
	}
	return nil, wrongType(v, "a string or a number")
}

func filterNth(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(args, "n", 0, true)
	if err != nil {
		return nil, err
	}
	if n < 0 || n >= int64(len(a)) {
		return nil, nil
	}
	return a[n], nil
}

func filterJoin(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	sep, err := stringArg(args, "sep", "", false)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, e := range a {
		if i > 0 {
			b.WriteString(sep)
		}
		renderTo(&b, e)
		if b.Len() > maxStringLen {
			return nil, fmt.Errorf("the result would be longer than %d bytes", maxStringLen)
		}
	}
	return b.String(), nil
}

// attribute looks up a dotted attribute path in a value.
func attribute(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		var ok bool
		var err *Error
		if v, ok, err = member(v, part); err != nil || !ok {
			return nil, false
		}
	}
	return v, true
}

func sortKey(v any, args map[string]any) (any, error) {
	attr, err := stringArg(args, "attribute", "", false)
	if err != nil || attr == "" {
		return v, err
	}
	k, ok := attribute(v, attr)
	if !ok {
		return nil, fmt.Errorf("attribute `%s` is missing on an item", attr)
	}
	return k, nil
}

func filterSort(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	keys := make([]any, len(a))
	for i, e := range a {
		if keys[i], err = sortKey(e, args); err != nil {
			return nil, err
		}
	}
	var kind string
	for _, k := range keys {
		t := typeName(k)
		if t != "number" && t != "string" && t != "bool" {
			return nil, fmt.Errorf("cannot sort %s values", t)
		}
		if kind != "" && t != kind {
			return nil, fmt.Errorf("cannot sort a mix of %s and %s values", kind, t)
		}
		kind = t
	}
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return less(keys[idx[i]], keys[idx[j]]) })
	out := make([]any, len(a))
	for i, k := range idx {
		out[i] = a[k]
	}
	return out, nil
}

func less(a, b any) bool {
	switch x := a.(type) {
	case string:
		return x < b.(string)
	case bool:
		return !x && b.(bool)
	}
	fa, _ := toFloat(a)
	fb, _ := toFloat(b)
	return fa < fb
}

func filterUnique(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	cs, err := boolArg(args, "case_sensitive", false)
	if err != nil {
		return nil, err
	}
	out := []any{}
	seen := make(map[string]bool, len(a))
	for _, e := range a {
		k, err := sortKey(e, args)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(string); ok && !cs {
			k = strings.ToLower(s)
		}
		id, err := identity(k)
		if err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// identity is a string that is equal for values that are equal (1 and 1.0
// included).
func identity(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return "n" + formatFloat(float64(x)), nil
	case float64:
		return "n" + formatFloat(x), nil
	}
	s, err := jsonEncode(v, false)
	return typeName(v) + s, err
}

func filterSlice(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	n := int64(len(a))
	start, err := intArg(args, "start", 0, false)
	if err != nil {
		return nil, err
	}
	end, err := intArg(args, "end", n, false)
	if err != nil {
		return nil, err
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(0, min(start, n))
	end = max(0, min(end, n))
	if start >= end {
		return []any{}, nil
	}
	return append([]any(nil), a[start:end]...), nil
}

func filterGroupBy(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	attr, err := stringArg(args, "attribute", "", true)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, e := range a {
		k, ok := attribute(e, attr)
		if !ok || k == nil {
			continue
		}
		key := printValue(k)
		list, _ := out[key].([]any)
		out[key] = append(list, e)
	}
	return out, nil
}

func filterFilter(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	attr, err := stringArg(args, "attribute", "", true)
	if err != nil {
		return nil, err
	}
	want, hasWant := args["value"]
	out := []any{}
	for _, e := range a {
		k, ok := attribute(e, attr)
		if hasWant && ok && equal(k, want) || !hasWant && ok && k != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

func filterMap(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	attr, err := stringArg(args, "attribute", "", true)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, e := range a {
		if k, ok := attribute(e, attr); ok && k != nil {
			out = append(out, k)
		}
	}
	return out, nil
}

func filterConcat(v any, args map[string]any) (any, error) {
	a, err := wantArray(v)
	if err != nil {
		return nil, err
	}
	with, ok := args["with"]
	if !ok {
		return nil, errors.New("argument `with` is required")
	}
	out := append([]any(nil), a...)
	if w, ok := with.([]any); ok {
		out = append(out, w...)
	} else {
		out = append(out, with)
	}
	if len(out) > maxListLen {
		return nil, fmt.Errorf("the result would have more than %d items", maxListLen)
	}
	return out, nil
}

func filterPluralize(v any, args map[string]any) (any, error) {
	f, ok := toFloat(v)
	if !ok {
		return nil, wrongType(v, "a number")
	}
	singular, err := stringArg(args, "singular", "", false)
	if err != nil {
		return nil, err
	}
	plural, err := stringArg(args, "plural", "s", false)
	if err != nil {
		return nil, err
	}
	if math.Abs(f) == 1 {
		return singular, nil
	}
	return plural, nil
}

func filterRound(v any, args map[string]any) (any, error) {
	f, ok := toFloat(v)
	if !ok {
		return nil, wrongType(v, "a number")
	}
	method, err := stringArg(args, "method", "common", false)
	if err != nil {
		return nil, err
	}
	prec, err := intArg(args, "precision", 0, false)
	if err != nil {
		return nil, err
	}
	if prec < 0 || prec > 20 {
		return nil, errors.New("`precision` must be between 0 and 20")
	}
	m := math.Pow(10, float64(prec))
	switch method {
	case "common":
		return math.Round(f*m) / m, nil
	case "ceil":
		return math.Ceil(f*m) / m, nil
	case "floor":
		return math.Floor(f*m) / m, nil
	}
	return nil, fmt.Errorf("`method` must be common, ceil or floor, got %q", method)
}

func filterFilesize(v any, args map[string]any) (any, error) {
	f, ok := toFloat(v)
	if !ok {
		return nil, wrongType(v, "a number")
	}
	binary, err := boolArg(args, "binary", false)
	if err != nil {
		return nil, err
	}
	base, units := 1000.0, []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	if binary {
		base, units = 1024.0, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	}
	i := 0
	for math.Abs(f) >= base && i < len(units)-1 {
		f /= base
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d %s", int64(f), units[0]), nil
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " " + units[i], nil
}

func filterGet(v any, args map[string]any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, wrongType(v, "an object")
	}
	key, err := stringArg(args, "key", "", true)
	if err != nil {
		return nil, err
	}
	if r, ok := m[key]; ok {
		return r, nil
	}
	if d, ok := args["default"]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("the object has no key `%s`; add `default=...`", key)
}

// strftime directives supported by the date filter.
func filterDate(v any, args map[string]any) (any, error) {
	format, err := stringArg(args, "format", "%Y-%m-%d", false)
	if err != nil {
		return nil, err
	}
	tz, err := stringArg(args, "timezone", "", false)
	if err != nil {
		return nil, err
	}
	var t time.Time
	switch x := v.(type) {
	case int64:
		t = time.Unix(x, 0).UTC()
	case float64:
		t = time.Unix(int64(x), 0).UTC()
	case string:
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			if t, err = time.Parse("2006-01-02", x); err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 date", x)
			}
		}
	default:
		return nil, wrongType(v, "a timestamp or a date string")
	}
	if tz != "" {
		if tz != "UTC" {
			return nil, fmt.Errorf("timezone %q is not supported (only UTC)", tz)
		}
		t = t.UTC()
	}
	return strftime(t, format)
}

func strftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("unsupported format directive `%%%c`", format[i])
		}
	}
	return b.String(), nil
}
