package tera

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits that keep a hostile template from using unbounded time or memory.
const (
	maxSteps     = 100_000 // evaluation steps (tag executions, loop iterations, list items)
	maxOutput    = 8 << 20 // bytes of rendered output
	maxStringLen = 1 << 20 // bytes in any one string value
	maxListLen   = 10_000  // items in any one list (e.g. from range())
)

// scope lists the for loops enclosing an expression, outermost first, by
// loop id.
type scope []int

// loopState is the state of one running for loop.
type loopState struct {
	node      *forNode
	keys      []any
	vals      []any
	cur       int
	broken    bool
	continued bool
	frame     map[string]any // variables set with {% set %} inside the loop
}

// undefinedError reports whether err is a "variable not found" error.
func (e *Error) isUndefined() bool { return e != nil && e.undefined }

// eval evaluates an expression.
func (rt *runtime) eval(e expr, sc scope) (any, *Error) {
	rt.steps++
	if rt.steps > maxSteps {
		s, t := e.span()
		return nil, errAt(s, t, fmt.Sprintf("template is too expensive: more than %d evaluation steps", maxSteps))
	}
	switch x := e.(type) {
	case *literal:
		return x.v, nil
	case *variable, *attrAccess, *indexAccess:
		v, found, err := rt.lookupPath(e, sc)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, rt.undefinedErr(e, sc)
		}
		return v, nil
	case *arrayLit:
		out := make([]any, 0, len(x.elems))
		for _, el := range x.elems {
			v, err := rt.eval(el, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if err := rt.checkValue(out, x); err != nil {
			return nil, err
		}
		return out, nil
	case *funcCall:
		return rt.callFunction(x, sc)
	case *unaryOp:
		if x.op == "not" {
			b, err := rt.cond(x.x, sc)
			return !b, err
		}
		v, err := rt.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		switch n := v.(type) {
		case int64:
			if n == math.MinInt64 {
				return nil, errAt(x.start, x.end, "integer overflow in `-`")
			}
			return -n, nil
		case float64:
			return -n, nil
		}
		return nil, errAt(x.start, x.end, fmt.Sprintf("unary `-` needs a number, got %s", typeName(v)))
	case *binaryOp:
		return rt.evalBinary(x, sc)
	case *filtered:
		return rt.evalFiltered(x, sc)
	case *testExpr:
		return rt.evalTest(x, sc)
	}
	s, t := e.span()
	return nil, errAt(s, t, "internal error: unknown expression")
}

// pathText is the source text of a variable path such as `a.b[0]`.
func (rt *runtime) pathText(e expr) string {
	s, t := e.span()
	return rt.src[s:t]
}

func (rt *runtime) undefinedErr(e expr, sc scope) *Error {
	name := rt.pathText(e)
	msg := fmt.Sprintf("Variable `%s` not found in context", name)
	fallback := fmt.Sprintf("write `%s | default(value='…')` for a fallback", name)
	root := rootVariable(e)
	_, rootFound := rt.lookupVar(root.name, sc)
	switch {
	case rootFound:
		if _, ok := e.(*indexAccess); ok {
			msg += " (maybe the index is out of bounds)"
		}
		msg += "; " + fallback
	case root.name == "git_branch":
		msg += ": it is only set when the branch is known (MIRRORD_BRANCH_NAME, or a git checkout on a branch); " +
			strings.Replace(fallback, "…", "main", 1)
	case root.name == "env":
		msg += "; there is no `env` object: read environment variables with `get_env(name=\"…\")`"
	default:
		if hint := didYouMean(root.name, rt.visibleNames(sc)); hint != "" {
			msg += hint + " Or " + fallback
		} else {
			msg += "; " + fallback
		}
	}
	s, t := e.span()
	err := errAt(s, t, msg)
	err.undefined = true
	return err
}

// rootVariable is the variable a path expression starts from.
func rootVariable(e expr) *variable {
	for {
		switch x := e.(type) {
		case *variable:
			return x
		case *attrAccess:
			e = x.x
		case *indexAccess:
			e = x.x
		default:
			return &variable{name: ""}
		}
	}
}

// visibleNames lists the variables an expression in scope sc can see.
func (rt *runtime) visibleNames(sc scope) []string {
	var names []string
	for _, id := range sc {
		if ls := rt.loops[id]; ls != nil {
			names = append(names, ls.node.val, "loop")
			if ls.node.key != "" {
				names = append(names, ls.node.key)
			}
			for k := range ls.frame {
				names = append(names, k)
			}
		}
	}
	for k := range rt.globals {
		names = append(names, k)
	}
	for k := range rt.vars {
		names = append(names, k)
	}
	names = append(names, "git_branch", "key") // mirrord's variables, even when unset
	sort.Strings(names)
	return names
}

// lookupPath resolves a variable, attribute or index expression. found is
// false when the variable or one of its parts does not exist.
func (rt *runtime) lookupPath(e expr, sc scope) (v any, found bool, err *Error) {
	switch x := e.(type) {
	case *variable:
		v, ok := rt.lookupVar(x.name, sc)
		return v, ok, nil
	case *attrAccess:
		base, ok, err := rt.lookupPath(x.x, sc)
		if err != nil || !ok {
			return nil, false, err
		}
		return member(base, x.name)
	case *indexAccess:
		base, ok, err := rt.lookupPath(x.x, sc)
		if err != nil || !ok {
			return nil, false, err
		}
		idx, err := rt.eval(x.index, sc)
		if err != nil {
			return nil, false, err
		}
		switch k := idx.(type) {
		case string:
			return member(base, k)
		case int64:
			return member(base, strconv.FormatInt(k, 10))
		}
		s, t := x.index.span()
		return nil, false, errAt(s, t, fmt.Sprintf("an index must be a string or an integer, got %s", typeName(idx)))
	}
	v, err = rt.eval(e, sc)
	return v, err == nil, err
}

// member returns base[name] for objects and base[int(name)] for arrays.
func member(base any, name string) (any, bool, *Error) {
	switch b := base.(type) {
	case map[string]any:
		v, ok := b[name]
		return v, ok, nil
	case []any:
		i, err := strconv.Atoi(name)
		if err != nil || i < 0 || i >= len(b) {
			return nil, false, nil
		}
		return b[i], true, nil
	}
	return nil, false, nil
}

// lookupVar finds a variable: loop variables and loop-local sets from the
// innermost loop outwards, then globals set by the template, then the
// context.
func (rt *runtime) lookupVar(name string, sc scope) (any, bool) {
	for i := len(sc) - 1; i >= 0; i-- {
		ls := rt.loops[sc[i]]
		if ls == nil {
			continue
		}
		n := ls.node
		if name == n.val {
			return ls.vals[ls.cur], true
		}
		if n.key != "" && name == n.key {
			return ls.keys[ls.cur], true
		}
		if name == "loop" && i == len(sc)-1 {
			return map[string]any{
				"index":  int64(ls.cur + 1),
				"index0": int64(ls.cur),
				"first":  ls.cur == 0,
				"last":   ls.cur == len(ls.vals)-1,
			}, true
		}
		if v, ok := ls.frame[name]; ok {
			return v, true
		}
	}
	if v, ok := rt.globals[name]; ok {
		return v, true
	}
	v, ok := rt.vars[name]
	return v, ok
}

// cond evaluates an expression as a condition, as Tera does: an undefined
// variable (possibly with filters) is false instead of an error.
func (rt *runtime) cond(e expr, sc scope) (bool, *Error) {
	switch x := e.(type) {
	case *binaryOp:
		switch x.op {
		case "and":
			l, err := rt.cond(x.l, sc)
			if err != nil || !l {
				return false, err
			}
			return rt.cond(x.r, sc)
		case "or":
			l, err := rt.cond(x.l, sc)
			if err != nil || l {
				return l, err
			}
			return rt.cond(x.r, sc)
		}
	case *unaryOp:
		if x.op == "not" {
			b, err := rt.cond(x.x, sc)
			return !b, err
		}
	}
	v, err := rt.eval(e, sc)
	if err != nil {
		if err.isUndefined() && isPathLike(e) {
			return false, nil
		}
		return false, err
	}
	return truthy(v), nil
}

// isPathLike reports whether e is a variable path, possibly filtered.
func isPathLike(e expr) bool {
	switch x := e.(type) {
	case *variable, *attrAccess, *indexAccess:
		return true
	case *filtered:
		return isPathLike(x.x)
	}
	return false
}

// checkValue enforces the size limits on a value just made, and charges
// its size to the step budget. Arrays may share parts (`[b, b]`), so the
// size is the size of the tree, as printing or encoding would see it.
func (rt *runtime) checkValue(v any, e expr) *Error {
	switch x := v.(type) {
	case string:
		if len(x) > maxStringLen {
			s, t := e.span()
			return errAt(s, t, fmt.Sprintf("string value is too long (%d bytes, the limit is %d)", len(x), maxStringLen))
		}
	case []any, map[string]any:
		if l, ok := x.([]any); ok && len(l) > maxListLen {
			s, t := e.span()
			return errAt(s, t, fmt.Sprintf("list is too long (%d items, the limit is %d)", len(l), maxListLen))
		}
		var m measure
		if !m.walk(x, 0) {
			s, t := e.span()
			return errAt(s, t, fmt.Sprintf("value is too large (the limits are %d items, %d bytes of text and %d levels of nesting)", maxNodes, maxValueBytes, maxDepth))
		}
		rt.steps += m.nodes
		if rt.steps > maxSteps {
			s, t := e.span()
			return errAt(s, t, fmt.Sprintf("template is too expensive: more than %d evaluation steps", maxSteps))
		}
	}
	return nil
}

const (
	maxNodes      = 100_000 // items in a value, nested ones included
	maxValueBytes = 8 << 20 // bytes of text in a value
)

// measure counts the items and text bytes of a value, giving up as soon as
// a limit is passed.
type measure struct{ nodes, bytes int }

func (m *measure) walk(v any, depth int) bool {
	m.nodes++
	if m.nodes > maxNodes || depth > maxDepth {
		return false
	}
	switch x := v.(type) {
	case string:
		m.bytes += len(x)
	case []any:
		for _, e := range x {
			if !m.walk(e, depth+1) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			m.bytes += len(k)
			if !m.walk(e, depth+1) {
				return false
			}
		}
	}
	return m.bytes <= maxValueBytes
}

func (rt *runtime) evalBinary(x *binaryOp, sc scope) (any, *Error) {
	switch x.op {
	case "and", "or":
		return rt.cond(x, sc)
	}
	l, err := rt.eval(x.l, sc)
	if err != nil {
		return nil, err
	}
	r, err := rt.eval(x.r, sc)
	if err != nil {
		return nil, err
	}
	switch x.op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "<", ">", "<=", ">=":
		lf, okL := toFloat(l)
		rf, okR := toFloat(r)
		if !okL || !okR {
			return nil, errAt(x.start, x.end, fmt.Sprintf("`%s` compares numbers, but got %s and %s", x.op, typeName(l), typeName(r)))
		}
		switch x.op {
		case "<":
			return lf < rf, nil
		case ">":
			return lf > rf, nil
		case "<=":
			return lf <= rf, nil
		default:
			return lf >= rf, nil
		}
	case "in", "not in":
		found, err := contains(r, l)
		if err != nil {
			s, t := x.r.span()
			return nil, errAt(s, t, err.Error())
		}
		return found == (x.op == "in"), nil
	case "~":
		ls, okL := concatString(l)
		rs, okR := concatString(r)
		if !okL || !okR {
			bad, v := x.l, l
			if okL {
				bad, v = x.r, r
			}
			s, t := bad.span()
			return nil, errAt(s, t, fmt.Sprintf("`~` joins strings and numbers, got %s", typeName(v)))
		}
		if len(ls)+len(rs) > maxStringLen {
			return nil, errAt(x.start, x.end, fmt.Sprintf("string value is too long (the limit is %d bytes)", maxStringLen))
		}
		return ls + rs, nil
	}
	return arith(x, l, r)
}

func concatString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64, float64:
		return printValue(x), true
	}
	return "", false
}

// contains is Tera's `in`.
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case []any:
		for _, e := range c {
			if equal(e, item) {
				return true, nil
			}
		}
		return false, nil
	case string:
		s, ok := item.(string)
		if !ok {
			return false, fmt.Errorf("`in` on a string needs a string on the left, got %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case map[string]any:
		s, ok := item.(string)
		if !ok {
			return false, fmt.Errorf("`in` on an object needs a string on the left, got %s", typeName(item))
		}
		_, found := c[s]
		return found, nil
	}
	return false, fmt.Errorf("`in` works on strings, arrays and objects, got %s", typeName(container))
}

func arith(x *binaryOp, l, r any) (any, *Error) {
	if !isNumber(l) || !isNumber(r) {
		msg := fmt.Sprintf("`%s` needs numbers, got %s and %s", x.op, typeName(l), typeName(r))
		if x.op == "+" {
			if _, ok := l.(string); ok {
				msg += "; use `~` to join strings"
			}
		}
		return nil, errAt(x.start, x.end, msg)
	}
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt && x.op != "/" {
		overflow := func() (any, *Error) {
			return nil, errAt(x.start, x.end, fmt.Sprintf("%d %s %d is out of the range of a 64-bit integer", li, x.op, ri))
		}
		switch x.op {
		case "+":
			s := li + ri
			if (s > li) != (ri > 0) {
				return overflow()
			}
			return s, nil
		case "-":
			s := li - ri
			if (s < li) != (ri > 0) {
				return overflow()
			}
			return s, nil
		case "*":
			if li == 0 || ri == 0 {
				return int64(0), nil
			}
			p := li * ri
			if p/ri != li || (li == -1 && ri == math.MinInt64) || (ri == -1 && li == math.MinInt64) {
				return overflow()
			}
			return p, nil
		case "%":
			if ri == 0 {
				return nil, errAt(x.start, x.end, "modulo by zero")
			}
			if ri == -1 {
				return int64(0), nil
			}
			return li % ri, nil
		}
	}
	lf, _ := toFloat(l)
	rf, _ := toFloat(r)
	switch x.op {
	case "+":
		return lf + rf, nil
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, errAt(x.start, x.end, "division by zero")
		}
		return lf / rf, nil
	case "%":
		if rf == 0 {
			return nil, errAt(x.start, x.end, "modulo by zero")
		}
		return math.Mod(lf, rf), nil
	}
	return nil, errAt(x.start, x.end, "internal error: unknown operator "+x.op)
}

func (rt *runtime) evalArgs(args []kwarg, sc scope) (map[string]any, *Error) {
	m := make(map[string]any, len(args))
	for _, a := range args {
		v, err := rt.eval(a.v, sc)
		if err != nil {
			return nil, err
		}
		m[a.name] = v
	}
	return m, nil
}

func (rt *runtime) callFunction(x *funcCall, sc scope) (any, *Error) {
	fn := functions[x.name]
	args, err := rt.evalArgs(x.args, sc)
	if err != nil {
		return nil, err
	}
	v, ferr := fn.call(rt, args)
	if ferr != nil {
		return nil, errAt(x.start, x.end, fmt.Sprintf("Function `%s` failed: %v", x.name, ferr))
	}
	if err := rt.checkValue(v, x); err != nil {
		return nil, err
	}
	return v, nil
}

func (rt *runtime) evalFiltered(x *filtered, sc scope) (any, *Error) {
	var v any
	var err *Error
	if x.filters[0].name == "default" && isPath(x.x) {
		var found bool
		v, found, err = rt.lookupPath(x.x, sc)
		if err != nil {
			return nil, err
		}
		if !found || v == nil {
			dv, ok := argExpr(x.filters[0].args, "value")
			if !ok {
				return nil, errAt(x.filters[0].start, x.filters[0].end, "the `default` filter needs a `value` argument")
			}
			if v, err = rt.eval(dv, sc); err != nil {
				return nil, err
			}
		}
	} else if v, err = rt.eval(x.x, sc); err != nil {
		return nil, err
	}
	for _, f := range x.filters {
		if f.name == "default" || f.name == "safe" {
			continue
		}
		if v, err = rt.applyFilter(f, v, sc); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (rt *runtime) applyFilter(f filterCall, v any, sc scope) (any, *Error) {
	args, err := rt.evalArgs(f.args, sc)
	if err != nil {
		return nil, err
	}
	// A filter's work grows with its input: charge for it up front.
	rt.steps += 1 + cost(v)
	if rt.steps > maxSteps {
		return nil, errAt(f.start, f.end, fmt.Sprintf("template is too expensive: more than %d evaluation steps", maxSteps))
	}
	out, ferr := filters[f.name].call(v, args)
	if ferr != nil {
		return nil, errAt(f.start, f.end, fmt.Sprintf("Filter `%s` failed: %v", f.name, ferr))
	}
	if err := rt.checkValue(out, f); err != nil {
		return nil, err
	}
	return out, nil
}

func isPath(e expr) bool {
	switch e.(type) {
	case *variable, *attrAccess, *indexAccess:
		return true
	}
	return false
}

func argExpr(args []kwarg, name string) (expr, bool) {
	for _, a := range args {
		if a.name == name {
			return a.v, true
		}
	}
	return nil, false
}

func (rt *runtime) evalTest(x *testExpr, sc scope) (any, *Error) {
	var v any
	defined := true
	if isPath(x.x) {
		var err *Error
		v, defined, err = rt.lookupPath(x.x, sc)
		if err != nil {
			return nil, err
		}
	} else {
		var err *Error
		if v, err = rt.eval(x.x, sc); err != nil {
			return nil, err
		}
	}
	args := make([]any, 0, len(x.args))
	for _, a := range x.args {
		av, err := rt.eval(a, sc)
		if err != nil {
			return nil, err
		}
		args = append(args, av)
	}
	ok, terr := tests[x.name].call(v, defined, args)
	if terr != nil {
		return nil, errAt(x.start, x.end, fmt.Sprintf("Test `%s` failed: %v", x.name, terr))
	}
	return ok != x.negated, nil
}

// iterate returns the keys and values a for loop walks: array items,
// string characters, or object entries in key order.
func (rt *runtime) iterate(n *forNode, v any) (keys, vals []any, err *Error) {
	s, t := n.iter.span()
	switch c := v.(type) {
	case []any:
		if n.key != "" {
			return nil, nil, errAt(s, t, "cannot iterate with `key, value` over an array (only objects have keys)")
		}
		return nil, c, nil
	case string:
		if n.key != "" {
			return nil, nil, errAt(s, t, "cannot iterate with `key, value` over a string")
		}
		if n := utf8.RuneCountInString(c); n > maxListLen {
			return nil, nil, errAt(s, t, fmt.Sprintf("the string has %d characters, more than the limit of %d for a loop", n, maxListLen))
		}
		for _, r := range c {
			vals = append(vals, string(r))
		}
		return nil, vals, nil
	case map[string]any:
		if n.key == "" {
			return nil, nil, errAt(s, t, "iterating over an object needs two loop variables: `{% for key, value in ... %}`")
		}
		for _, k := range sortedKeys(c) {
			keys = append(keys, k)
			vals = append(vals, c[k])
		}
		return keys, vals, nil
	}
	return nil, nil, errAt(s, t, fmt.Sprintf("cannot iterate over %s; a for loop needs an array, a string or an object", typeName(v)))
}

// cost estimates the work of processing a value, in evaluation steps.
func cost(v any) int {
	switch x := v.(type) {
	case string:
		return len(x) / 256
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return 0
}
