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
			pathEqual(appendSeg(top.path, Seg{Key: top.key}), want) {
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

func pathEqual(a, b []Seg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
