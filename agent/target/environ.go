package target

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Environ returns the target's environment: /proc/PID/environ, or the
// agent's own when the target has no PID.
func (t Target) Environ() (map[string]string, error) {
	if t.PID == 0 {
		return ParseEnviron([]byte(strings.Join(os.Environ(), "\x00"))), nil
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", t.PID))
	if err != nil {
		return nil, fmt.Errorf("read target environment: %w", err)
	}
	return ParseEnviron(data), nil
}

// ParseEnviron parses NUL-separated NAME=value entries; entries without '='
// are skipped, later duplicates win.
func ParseEnviron(data []byte) map[string]string {
	env := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok || len(k) == 0 {
			continue
		}
		env[string(k)] = string(v)
	}
	return env
}
