package cursor

import "strings"

// YAML scanning is line based: block mappings and sequences by indentation.
// A value written in flow style ({...} or [...]) is scanned with the JSON
// machine.

type yentry struct {
	indent   int
	seg      Seg
	isItem   bool
	children []string // keys of the mapping this entry's value is
}

type yline struct {
	start, end int // byte span of the line without its newline
}

func splitLines(text string) []yline {
	var out []yline
	start := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			end := i
			if end > start && text[end-1] == '\r' {
				end--
			}
			out = append(out, yline{start, end})
			start = i + 1
		case '\r': // a lone CR ends a line too
			if i+1 < len(text) && text[i+1] == '\n' {
				continue
			}
			out = append(out, yline{start, i})
			start = i + 1
		}
	}
	return append(out, yline{start, len(text)})
}

// yamlKey splits "key: rest" (key optionally quoted). ok is false when the
// content is not a mapping entry. keyEnd is the offset (in content) just
// after the key token; valueStart the offset after ": ".
func yamlKey(content string) (key string, keyEnd, colon int, ok bool) {
	if content == "" {
		return "", 0, 0, false
	}
	i := 0
	if q := content[0]; q == '"' || q == '\'' {
		j := strings.IndexByte(content[1:], q)
		if j < 0 {
			return "", 0, 0, false
		}
		key = content[1 : 1+j]
		i = 2 + j
		keyEnd = i
		for i < len(content) && content[i] == ' ' {
			i++
		}
		if i < len(content) && content[i] == ':' && (i+1 == len(content) || content[i+1] == ' ' || content[i+1] == '\t') {
			return key, keyEnd, i, true
		}
		return "", 0, 0, false
	}
	for i = 0; i < len(content); i++ {
		c := content[i]
		if c == '#' && i > 0 && content[i-1] == ' ' {
			return "", 0, 0, false
		}
		if c == ':' && (i+1 == len(content) || content[i+1] == ' ' || content[i+1] == '\t') {
			return strings.TrimRight(content[:i], " \t"), len(strings.TrimRight(content[:i], " \t")), i, true
		}
		if c == '{' || c == '[' || c == '"' || c == '\'' {
			if i == 0 {
				return "", 0, 0, false
			}
		}
	}
	return "", 0, 0, false
}

// stripItems removes leading "- " markers, returning the content, its
// column, and the columns of the markers.
func stripItems(line string, indent int) (content string, col int, items []int) {
	content = line[indent:]
	col = indent
	for strings.HasPrefix(content, "- ") || content == "-" {
		items = append(items, col)
		adv := 2
		if content == "-" {
			adv = 1
		}
		content = content[adv:]
		col += adv
		n := len(content) - len(strings.TrimLeft(content, " "))
		content = content[n:]
		col += n
	}
	return content, col, items
}

func leadingSpaces(s string) int {
	n := 0
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

type ystack struct {
	entries []*yentry // entries[0] is the root (indent -1)
}

func (st *ystack) top() *yentry { return st.entries[len(st.entries)-1] }

// popTo removes entries that cannot be parents of content at column col.
func (st *ystack) popTo(col int, item bool) (lastItemIndex int) {
	lastItemIndex = -1
	for len(st.entries) > 1 {
		t := st.top()
		if t.indent > col || (t.indent == col && (!item || t.isItem)) {
			if t.isItem && t.indent == col {
				lastItemIndex = t.seg.Index
			}
			st.entries = st.entries[:len(st.entries)-1]
			continue
		}
		break
	}
	return lastItemIndex
}

func (st *ystack) path() []Seg {
	out := make([]Seg, 0, len(st.entries)-1)
	for _, e := range st.entries[1:] {
		out = append(out, e.seg)
	}
	return out
}

func (st *ystack) pushItems(items []int) {
	for _, c := range items {
		last := st.popTo(c, true)
		st.entries = append(st.entries, &yentry{indent: c, isItem: true, seg: Seg{Index: last + 1, IsIndex: true}})
	}
}

func findYAML(text string, off int) Context {
	lines := splitLines(text)
	st := &ystack{entries: []*yentry{{indent: -1}}}
	cur := lineAt(lines, off)
	if off > lines[cur].end {
		off = lines[cur].end // the cursor sits in a "\r\n"
	}
	for _, ln := range lines[:cur] {
		line := text[ln.start:ln.end]
		indent := leadingSpaces(line)
		trimmed := line[indent:]
		if trimmed == "" || trimmed[0] == '#' || strings.HasPrefix(trimmed, "---") || strings.HasPrefix(trimmed, "%") {
			continue
		}
		content, col, items := stripItems(line, indent)
		st.pushItems(items)
		if key, _, _, ok := yamlKey(content); ok {
			st.popTo(col, false)
			parent := st.top()
			parent.children = append(parent.children, key)
			st.entries = append(st.entries, &yentry{indent: col, seg: Seg{Key: key}})
		}
	}

	ln := lines[cur]
	line := text[ln.start:ln.end]
	rel := off - ln.start
	indent := leadingSpaces(line)
	if strings.TrimSpace(line[:rel]) == "" {
		// Blank up to the cursor: a new key at the cursor's column.
		st.popTo(rel, false)
		return yamlKeyCtx(text, lines, cur, st, rel, off, off, "", 0)
	}
	if strings.HasPrefix(strings.TrimLeft(line[:rel], " "), "#") {
		return Context{Kind: Nothing}
	}
	content, col, items := stripItems(line, indent)
	if col > rel {
		// The cursor is within the "- " markers.
		return Context{Kind: Nothing}
	}
	st.pushItems(items)
	contentStart := ln.start + col
	key, keyEnd, colon, isKey := yamlKey(content)
	if isKey && off > contentStart+colon {
		st.popTo(col, false)
		path := appendSeg(st.path(), Seg{Key: key})
		vstart := contentStart + colon + 1
		for vstart < ln.end && (text[vstart] == ' ' || text[vstart] == '\t') {
			vstart++
		}
		if off < vstart {
			return Context{Kind: Value, Path: path, Start: off, End: off, Indent: col}
		}
		return yamlValueCtx(text, vstart, ln.end, off, path, col)
	}
	if !isKey && len(items) > 0 && !strings.ContainsAny(content, ":{[") {
		// "- word": a scalar item, or the first key of an object item.
		ctx := yamlValueCtx(text, contentStart, ln.end, off, st.path(), col)
		ctx.MaybeKey = true
		return ctx
	}
	if !isKey && content != "" && (content[0] == '{' || content[0] == '[') {
		return findJSON(text[contentStart:ln.end], off-contentStart, ':', contentStart, st.path()...)
	}
	// Typing a key.
	st.popTo(col, false)
	end := ln.end
	quote := byte(0)
	prefixStart := contentStart
	if isKey {
		end = contentStart + keyEnd
	} else if i := strings.IndexAny(content, " #"); i >= 0 {
		end = contentStart + i
	}
	if content != "" && (content[0] == '"' || content[0] == '\'') {
		quote = content[0]
		prefixStart++
	}
	if off > end {
		return Context{Kind: Nothing}
	}
	prefix := ""
	if off > prefixStart {
		prefix = text[prefixStart:off]
	}
	ctx := yamlKeyCtx(text, lines, cur, st, col, contentStart, end, prefix, quote)
	ctx.HasSeparator = isKey
	return ctx
}

func yamlKeyCtx(text string, lines []yline, cur int, st *ystack, col, start, end int, prefix string, quote byte) Context {
	ctx := Context{Kind: Key, Path: st.path(), Start: start, End: end, Prefix: prefix, Quote: quote, Indent: col}
	parent := st.top()
	ctx.Siblings = append(ctx.Siblings, parent.children...)
	// Keys below the cursor at the same column belong to the same mapping.
	for _, ln := range lines[cur+1:] {
		line := text[ln.start:ln.end]
		ind := leadingSpaces(line)
		trimmed := line[ind:]
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if ind < col || (ind == col && strings.HasPrefix(trimmed, "-")) {
			break
		}
		if ind == col {
			if k, _, _, ok := yamlKey(trimmed); ok {
				ctx.Siblings = append(ctx.Siblings, k)
			}
		}
	}
	return ctx
}

// yamlValueCtx: the cursor is in the value that spans [vstart, lineEnd).
func yamlValueCtx(text string, vstart, lineEnd, off int, path []Seg, col int) Context {
	v := text[vstart:lineEnd]
	if v != "" && (v[0] == '{' || v[0] == '[') {
		return findJSON(v, off-vstart, ':', vstart, path...)
	}
	ctx := Context{Kind: Value, Path: path, Start: vstart, Indent: col}
	end := lineEnd
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		ctx.Quote = v[0]
		if j := strings.IndexByte(v[1:], v[0]); j >= 0 {
			end = vstart + 2 + j
		}
	} else if i := strings.Index(v, " #"); i >= 0 {
		end = vstart + i
	}
	for end > vstart && (text[end-1] == ' ' || text[end-1] == '\t') {
		end--
	}
	if off > end {
		if ctx.Quote == 0 || strings.TrimSpace(text[end:off]) != "" {
			return Context{Kind: Nothing}
		}
		end = off
	}
	ctx.End = end
	ps := vstart
	if ctx.Quote != 0 {
		ps++
	}
	if off > ps {
		ctx.Prefix = text[ps:off]
	}
	return ctx
}

// lineAt is the index of the line holding offset off.
func lineAt(lines []yline, off int) int {
	cur := 0
	for i, ln := range lines {
		if ln.start > off {
			break
		}
		cur = i
	}
	return cur
}
