package cursor

import "strings"

// TOML scanning is line based: [table] and [[array]] headers set the
// current table; "a.b = value" lines are keys; values that are inline
// tables or arrays are scanned with the JSON machine ('=' separator).

// splitDotted splits a dotted key ("a.\"b.c\".d") into parts, returning the
// parts and the offset (within s) where each starts.
func splitDotted(s string) (parts []string, starts []int) {
	i := 0
	for i <= len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		var part string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			j := strings.IndexByte(s[i+1:], q)
			if j < 0 {
				part = s[i+1:]
				i = len(s)
			} else {
				part = s[i+1 : i+1+j]
				i += 2 + j
			}
		} else {
			j := strings.IndexByte(s[i:], '.')
			if j < 0 {
				part = strings.TrimRight(s[i:], " \t")
				i = len(s)
			} else {
				part = strings.TrimRight(s[i:i+j], " \t")
				i += j
			}
		}
		parts = append(parts, part)
		starts = append(starts, start)
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		break
	}
	return parts, starts
}

// indexOutsideQuotes finds c outside "..." and '...'.
func indexOutsideQuotes(s string, c byte) int {
	var q byte
	for i := 0; i < len(s); i++ {
		switch {
		case q != 0:
			if s[i] == '\\' && q == '"' {
				i++
			} else if s[i] == q {
				q = 0
			}
		case s[i] == '"' || s[i] == '\'':
			q = s[i]
		case s[i] == c:
			return i
		}
	}
	return -1
}

type tomlState struct {
	table      []Seg
	arrayCount map[string]int
	// open multi-line array: its path and the offset where its value starts
	openArray      []Seg
	openArrayStart int
	depth          int
}

func (ts *tomlState) header(content string) {
	double := strings.HasPrefix(content, "[[")
	inner := strings.TrimPrefix(content, "[")
	if double {
		inner = strings.TrimPrefix(inner, "[")
	}
	if i := indexOutsideQuotes(inner, ']'); i >= 0 {
		inner = inner[:i]
	}
	parts, _ := splitDotted(inner)
	var path []Seg
	for _, p := range parts {
		path = append(path, Seg{Key: p})
	}
	if double {
		k := Pointer(path)
		idx := ts.arrayCount[k]
		ts.arrayCount[k] = idx + 1
		path = append(path, Seg{Index: idx, IsIndex: true})
	}
	ts.table = path
}

// bracketDelta counts [ and ] / { and } outside strings and comments.
func bracketDelta(s string) int {
	d := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

func findTOML(text string, off int) Context {
	lines := splitLines(text)
	ts := &tomlState{arrayCount: map[string]int{}}
	cur := lineAt(lines, off)
	if off > lines[cur].end {
		off = lines[cur].end // the cursor sits in a "\r\n"
	}
	for _, ln := range lines[:cur] {
		line := text[ln.start:ln.end]
		trimmed := strings.TrimSpace(line)
		if ts.depth > 0 {
			ts.depth += bracketDelta(line)
			if ts.depth <= 0 {
				ts.depth, ts.openArray = 0, nil
			}
			continue
		}
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed[0] == '[' {
			ts.header(trimmed)
			continue
		}
		if eq := indexOutsideQuotes(line, '='); eq >= 0 {
			if d := bracketDelta(line[eq+1:]); d > 0 {
				parts, _ := splitDotted(line[:eq])
				path := clonePath(ts.table)
				for _, p := range parts {
					path = append(path, Seg{Key: p})
				}
				ts.depth, ts.openArray = d, path
				ts.openArrayStart = ln.start + eq + 1
			}
		}
	}
	ln := lines[cur]
	line := text[ln.start:ln.end]
	rel := off - ln.start
	if ts.depth > 0 {
		// Inside a multi-line array or table: scan from where it opened.
		return findJSON(text[ts.openArrayStart:ln.end], off-ts.openArrayStart, '=', ts.openArrayStart, ts.openArray...)
	}
	before := line[:rel]
	if i := indexOutsideQuotes(before, '#'); i >= 0 {
		return Context{Kind: Nothing}
	}
	indent := leadingSpaces(line)
	trimmedBefore := strings.TrimLeft(before, " \t")
	if strings.HasPrefix(trimmedBefore, "[") {
		// A table header: complete the table name.
		hstart := indent + 1
		if strings.HasPrefix(trimmedBefore, "[[") {
			hstart++
		}
		endRel := len(line)
		if i := indexOutsideQuotes(line[hstart:], ']'); i >= 0 {
			endRel = hstart + i
		}
		if rel > endRel {
			return Context{Kind: Nothing}
		}
		return tomlKeyCtx(text, lines, cur, ln.start+hstart, ln.start+endRel, off, nil, true, false)
	}
	if eq := indexOutsideQuotes(line, '='); eq >= 0 && eq < rel {
		parts, _ := splitDotted(line[:eq])
		path := clonePath(ts.table)
		for _, p := range parts {
			path = append(path, Seg{Key: p})
		}
		vstart := ln.start + eq + 1
		for vstart < ln.end && (text[vstart] == ' ' || text[vstart] == '\t') {
			vstart++
		}
		if off < vstart {
			return Context{Kind: Value, Path: path, Start: off, End: off}
		}
		v := text[vstart:ln.end]
		if v != "" && (v[0] == '{' || v[0] == '[') {
			return findJSON(v, off-vstart, '=', vstart, path...)
		}
		ctx := findJSON(v, off-vstart, '=', vstart, path...)
		if ctx.Kind == Nothing && strings.TrimSpace(text[vstart:off]) == "" {
			ctx = Context{Kind: Value, Path: path, Start: off, End: off}
		}
		return ctx
	}
	// Typing a (possibly dotted) key.
	keyEnd := ln.end
	hasSep := false
	if eq := indexOutsideQuotes(line, '='); eq >= 0 {
		keyEnd = ln.start + eq
		hasSep = true
	}
	for keyEnd > ln.start+indent && (text[keyEnd-1] == ' ' || text[keyEnd-1] == '\t') {
		keyEnd--
	}
	if off > keyEnd && strings.TrimSpace(text[keyEnd:off]) != "" {
		return Context{Kind: Nothing}
	}
	return tomlKeyCtx(text, lines, cur, ln.start+indent, max(keyEnd, off), off, ts.table, false, hasSep)
}

// tomlKeyCtx builds the Key context for a dotted key spanning
// [start, end) with the cursor at off, relative to table.
func tomlKeyCtx(text string, lines []yline, cur, start, end, off int, table []Seg, header, hasSep bool) Context {
	parts, starts := splitDotted(text[start:end])
	path := clonePath(table)
	last := 0
	for i, s := range starts {
		if start+s <= off {
			last = i
			continue
		}
		// After the dot that precedes part i, the cursor belongs to it.
		if i > 0 {
			dot := strings.LastIndexByte(text[start:start+s], '.')
			if dot >= 0 && start+dot < off {
				last = i
			}
		}
	}
	for _, p := range parts[:last] {
		path = append(path, Seg{Key: p})
	}
	pstart := start + starts[last]
	pend := end
	if last+1 < len(starts) {
		pend = start + starts[last+1] - 1
		for pend > pstart && (text[pend-1] == ' ' || text[pend-1] == '.') {
			pend--
		}
	}
	if off < pstart {
		pstart = off // in the blank between a dot and the part
	}
	if pend < off {
		pend = off
	}
	ctx := Context{Kind: Key, Path: path, Start: pstart, End: pend, TableHeader: header, HasSeparator: hasSep || last+1 < len(parts)}
	ps := pstart
	if pstart < len(text) && (text[pstart] == '"' || text[pstart] == '\'') {
		ctx.Quote = text[pstart]
		ps++
	}
	if off > ps {
		ctx.Prefix = text[ps:off]
	}
	if !header {
		ctx.Siblings = tomlSiblings(text, lines, cur, parts[:last])
	}
	return ctx
}

// tomlSiblings lists keys already set under the current table (with the
// same dotted prefix) on lines other than the cursor's.
func tomlSiblings(text string, lines []yline, cur int, prefix []string) []string {
	var out []string
	// The current table starts after the last header before cur.
	first := 0
	for i := cur - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.TrimSpace(text[lines[i].start:lines[i].end]), "[") {
			first = i + 1
			break
		}
	}
	for i := first; i < len(lines); i++ {
		if i == cur {
			continue
		}
		line := strings.TrimSpace(text[lines[i].start:lines[i].end])
		if strings.HasPrefix(line, "[") && i > cur {
			break
		}
		eq := indexOutsideQuotes(line, '=')
		if eq < 0 {
			continue
		}
		parts, _ := splitDotted(line[:eq])
		if len(parts) <= len(prefix) {
			continue
		}
		match := true
		for j, p := range prefix {
			if parts[j] != p {
				match = false
			}
		}
		if match {
			out = append(out, parts[len(prefix)])
		}
	}
	return out
}
