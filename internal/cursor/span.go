package cursor

// JSONValueSpan finds the member at keys in a JSON (or JSONC) document and
// returns the byte offsets of its key token and of its value. It works on
// broken documents as far as the member itself is intact.
func JSONValueSpan(text string, keys []string) (keyStart, valStart, valEnd int, ok bool) {
	want := make([]Seg, len(keys))
	for i, k := range keys {
		want[i] = Seg{Key: k}
	}
	lx := &lexer{text: text, sep: ':'}
	stack := []*jframe{{root: true, state: expectValue}}
	lastKeyStart := -1
	for {
		t := lx.next()
		if t.kind == tEOF {
			return 0, 0, 0, false
		}
		top := stack[len(stack)-1]
		if top.obj && (top.state == expectKey || top.state == afterValue) && (t.kind == tString || t.kind == tWord) {
			lastKeyStart = t.start
		}
		if top.obj && top.state == expectValue && t.kind != tSep && t.kind != tComma && t.kind != tRBrace &&
			memberIs(stack, top.key, want) {
			start := t.start
			if t.kind != tLBrace && t.kind != tLBrack {
				return lastKeyStart, start, t.end, true
			}
			depth := len(stack)
			stack = step(stack, t, text)
			for len(stack) > depth {
				t = lx.next()
				if t.kind == tEOF {
					return 0, 0, 0, false
				}
				stack = step(stack, t, text)
			}
			return lastKeyStart, start, t.end, true
		}
		stack = step(stack, t, text)
	}
}

// memberIs reports whether the member key of the object on top of stack is
// at path want. It costs O(len(want)), whatever the depth of the stack.
func memberIs(stack []*jframe, key string, want []Seg) bool {
	if len(want) == 0 || want[len(want)-1] != (Seg{Key: key}) {
		return false
	}
	segs := want[:len(want)-1]
	i := len(segs)
	for _, f := range stack[1:] {
		if !f.inner {
			continue
		}
		if i == 0 {
			return false // deeper than want
		}
		i--
	}
	if i != 0 {
		return false
	}
	j := 0
	for _, f := range stack[1:] {
		if f.inner {
			if f.seg != segs[j] {
				return false
			}
			j++
		}
	}
	return true
}
