package schema

import (
	"strconv"
	"strings"
)

// finding is a diagnostic before its span is mapped from the parsed
// (rendered) text back to the original text.
type finding struct {
	Severity   Severity
	Code       string
	Stage      Stage
	Pointer    string
	Message    string
	Suggestion string
	// Start and End are byte offsets in the rendered text; NoSpan marks
	// findings without a place in the file (environment variables).
	Start, End int
	NoSpan     bool
	// Original marks Start/End as offsets of the original text already
	// (template errors).
	Original bool
}

// fieldPath renders a JSON pointer the way mirrord names fields:
// "/feature/network/incoming/port_mapping/0" → "feature.network.incoming.port_mapping[0]".
func fieldPath(pointer string) string {
	if pointer == "" {
		return "(root)"
	}
	var b strings.Builder
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = unescapePointer(tok)
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// valueSpan is the span used for "bad value" findings: the value itself,
// but for a multi-line object or array the key that holds it (so an editor
// does not underline a whole section).
func valueSpan(root *Node, pointer string) (int, int) {
	n, m := root.Locate(pointer)
	if n == nil {
		return 0, 0
	}
	if (n.Kind == KindObject || n.Kind == KindArray) && m != nil && m.KeyEnd > m.KeyStart {
		return m.KeyStart, m.KeyEnd
	}
	if n.Kind == KindObject && m == nil && len(n.Members) > 0 && n.Members[0].KeyEnd > n.Start {
		// An object in a list: from its start to the end of its first key.
		return n.Start, n.Members[0].KeyEnd
	}
	return n.Start, n.End
}

// editDistance is the optimal-string-alignment distance of two short
// strings: insertions, deletions, substitutions and adjacent
// transpositions each cost 1 ("Kafak" is one edit from "Kafka").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// suggest returns the candidate closest to s when it is close enough:
// a case-insensitive match, or an edit distance of at most a third of the
// word (at least 1, at most 3).
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if strings.ToLower(c) == ls {
			return c
		}
		d := editDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := min(max(len(s)/3, 1), 3)
	if bestD <= limit {
		return best
	}
	return ""
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}
