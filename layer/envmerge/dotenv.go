package envmerge

import (
	"fmt"
	"strings"
)

// ParseDotenv parses a .env file: KEY=VALUE lines, optional "export ",
// comments (#) and blank lines, values bare (trailing " #comment" removed),
// 'single-quoted' (literal) or "double-quoted" (with \n, \t, \\, \" escapes,
// may span lines). Errors name the line.
func ParseDotenv(src string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, rest, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", lineNo)
		}
		if !validName(key) {
			return nil, fmt.Errorf("line %d: %q is not a variable name", lineNo, key)
		}
		rest = strings.TrimLeft(rest, " \t")
		switch {
		case strings.HasPrefix(rest, "'"):
			end := strings.IndexByte(rest[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated single quote", lineNo)
			}
			out[key] = rest[1 : 1+end]
		case strings.HasPrefix(rest, `"`):
			val, consumed, err := doubleQuoted(lines[i:], rest[1:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			out[key] = val
			i += consumed
		default:
			if j := strings.Index(rest, " #"); j >= 0 {
				rest = rest[:j]
			}
			out[key] = strings.TrimSpace(rest)
		}
	}
	return out, nil
}

// doubleQuoted reads a double-quoted value starting in first (after the
// quote), continuing on the following lines; it returns how many extra
// lines it used.
func doubleQuoted(lines []string, first string) (string, int, error) {
	var b strings.Builder
	s := first
	for extra := 0; ; extra++ {
		for j := 0; j < len(s); j++ {
			c := s[j]
			switch {
			case c == '\\' && j+1 < len(s):
				j++
				switch s[j] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(s[j])
				}
			case c == '"':
				return b.String(), extra, nil
			default:
				b.WriteByte(c)
			}
		}
		if extra+1 >= len(lines) {
			return "", 0, fmt.Errorf("unterminated double quote")
		}
		b.WriteByte('\n')
		s = lines[extra+1]
	}
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			continue
		}
		return false
	}
	return true
}
