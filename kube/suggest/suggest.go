// Package suggest picks "did you mean" candidates for misspelled names and
// formats short lists of what exists, for error messages.
package suggest

import (
	"sort"
	"strconv"
	"strings"
)

// Closest returns the candidate nearest to name by edit distance, or "" when
// none is close enough to be a plausible typo (distance at most a third of
// the longer name, and at least one edit away) or when a candidate contains
// name as a prefix.
func Closest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := distance(name, c)
		limit := max(len(name), len(c)) / 3
		if strings.HasPrefix(c, name) && name != "" {
			d = min(d, limit)
		}
		if d <= max(limit, 1) && (bestDist < 0 || d < bestDist || (d == bestDist && c < best)) {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal-string-alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and transpositions of
// adjacent bytes each cost 1 ("wbe" is one edit from "web").
func distance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

// List formats names for a message: sorted, at most limit of them, then
// "and N more". An empty list is "none".
func List(names []string, limit int) string {
	if len(names) == 0 {
		return "none"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if limit > 0 && len(sorted) > limit {
		return strings.Join(sorted[:limit], ", ") + ", and " + strconv.Itoa(len(sorted)-limit) + " more"
	}
	return strings.Join(sorted, ", ")
}

// Hint returns " (did you mean X?)" for the closest candidate, or "".
func Hint(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return " (did you mean " + c + "?)"
	}
	return ""
}
