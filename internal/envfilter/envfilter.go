// Package envfilter selects environment variables by name with glob
// patterns.
package envfilter

import (
	"fmt"
	"path"
)

// Apply returns the variables of env whose names match one of include (all
// when include is empty) and none of exclude. Patterns use path.Match syntax:
// * any run, ? one character, [...] a class.
func Apply(env map[string]string, include, exclude []string) (map[string]string, error) {
	for i, p := range append(append([]string{}, include...), exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("env pattern %d %q: %w", i, p, err)
		}
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		if len(include) > 0 && !matchAny(include, k) {
			continue
		}
		if matchAny(exclude, k) {
			continue
		}
		out[k] = v
	}
	return out, nil
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
