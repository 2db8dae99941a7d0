package tera

import "sort"

// segment is a run of rendered output and where it came from. A literal
// segment is a copy of the source text src..srcEnd (same length); any other
// segment was produced by the tag (or filter block) spanning src..srcEnd.
type segment struct {
	out, n      int // rendered span [out, out+n)
	src, srcEnd int // original span
	literal     bool
}

// SourceMap maps byte offsets of the rendered text back to the original
// template text. Rendered bytes copied from literal text map to the very
// byte they were copied from; bytes printed by an expression map to the
// whole `{{ }}` tag that printed them, and the output of a
// `{% filter %}…{% endfilter %}` section to the whole section. A nil
// SourceMap is the identity.
type SourceMap struct {
	segs   []segment
	outLen int
	srcLen int
	ident  bool
}

func identityMap(n int) *SourceMap {
	return &SourceMap{outLen: n, srcLen: n, ident: true}
}

// find returns the segment containing rendered offset o, or nil.
func (m *SourceMap) find(o int) *segment {
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].out+m.segs[i].n > o })
	if i < len(m.segs) && m.segs[i].out <= o {
		return &m.segs[i]
	}
	return nil
}

// ToSource maps a rendered byte offset to an original byte offset. Offsets
// at or past the end of the rendered text map to the end of the original.
func (m *SourceMap) ToSource(renderedOffset int) int {
	if m == nil || m.ident {
		return clamp(renderedOffset, m.srcLenOr(renderedOffset))
	}
	if renderedOffset < 0 {
		renderedOffset = 0
	}
	if renderedOffset >= m.outLen {
		return m.srcLen
	}
	s := m.find(renderedOffset)
	if s == nil {
		return m.srcLen
	}
	if s.literal {
		return s.src + renderedOffset - s.out
	}
	return s.src
}

// ToSourceRange maps a rendered span [start, end) to an original span.
// Where the span begins or ends inside an expression's output, the
// original span is widened to the whole `{{ }}` tag.
func (m *SourceMap) ToSourceRange(start, end int) (int, int) {
	if end < start {
		end = start
	}
	s := m.ToSource(start)
	if end == start {
		return s, s
	}
	if m == nil || m.ident {
		return s, clamp(end, m.srcLenOr(end))
	}
	e := m.srcLen
	if end-1 < m.outLen {
		if seg := m.find(end - 1); seg != nil {
			if seg.literal {
				e = seg.src + end - seg.out
			} else {
				e = seg.srcEnd
			}
		}
	}
	if e < s {
		e = s
	}
	return s, e
}

func (m *SourceMap) srcLenOr(fallback int) int {
	if m == nil {
		return fallback
	}
	return m.srcLen
}

func clamp(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}
