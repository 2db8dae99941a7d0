// Package markup turns the server's Markdown (hover text, completion
// documentation) into plain text for clients that do not render Markdown
// (LSP's MarkupKind "plaintext"; eglot without markdown-mode, for one).
//
// It knows the Markdown the server writes: emphasis, inline code, links,
// headings, fenced code blocks, block quotes and pipe tables. The text is
// kept; only the markup goes, so `**incoming**` reads as "incoming".
package markup

import (
	"strings"
)

// PlainText renders md as plain text.
func PlainText(md string) string {
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	fence := ""
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
				continue
			}
			out = append(out, line)
			continue
		}
		if f := fenceOf(trimmed); f != "" {
			fence = f
			continue
		}
		if isTableSeparator(trimmed) {
			continue
		}
		if isTableRow(trimmed) {
			cells := strings.Split(strings.Trim(trimmed, "|"), "|")
			for i, c := range cells {
				cells[i] = Inline(strings.TrimSpace(c))
			}
			out = append(out, strings.Join(cells, " | "))
			continue
		}
		if h := heading(trimmed); h != "" {
			out = append(out, Inline(h))
			continue
		}
		if strings.HasPrefix(trimmed, ">") {
			out = append(out, Inline(strings.TrimSpace(strings.TrimPrefix(trimmed, ">"))))
			continue
		}
		out = append(out, Inline(line))
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n ")
}

// fenceOf returns the fence (``` or ~~~) a line opens, or "".
func fenceOf(line string) string {
	for _, f := range []string{"```", "~~~"} {
		if strings.HasPrefix(line, f) {
			return f
		}
	}
	return ""
}

// isTableRow reports a pipe table row: | a | b |.
func isTableRow(line string) bool {
	return len(line) >= 2 && strings.HasPrefix(line, "|") && strings.HasSuffix(line, "|")
}

// isTableSeparator reports the |---|:--:| line under a table's header.
func isTableSeparator(line string) bool {
	if !isTableRow(line) || !strings.Contains(line, "-") {
		return false
	}
	return strings.Trim(line, "|-: ") == ""
}

// heading returns the text of an ATX heading (# Title), or "".
func heading(line string) string {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n >= len(line) || line[n] != ' ' {
		return ""
	}
	return strings.TrimSpace(line[n:])
}

// Inline removes the inline markup of one line: **strong**, *emphasis*,
// `code` (its text stays as written), [links](url), <autolinks> and
// backslash escapes.
func Inline(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isPunct(s[i+1]):
			b.WriteByte(s[i+1])
			i += 2
			continue
		case c == '`':
			if text, next, ok := codeSpan(s, i); ok {
				b.WriteString(text)
				i = next
				continue
			}
		case c == '!' && i+1 < len(s) && s[i+1] == '[':
			if text, _, next, ok := link(s, i+1); ok {
				b.WriteString(Inline(text))
				i = next
				continue
			}
		case c == '[':
			if text, url, next, ok := link(s, i); ok {
				text = Inline(text)
				b.WriteString(text)
				if url != "" && url != text {
					b.WriteString(" (" + url + ")")
				}
				i = next
				continue
			}
		case c == '<':
			if end := strings.IndexByte(s[i:], '>'); end > 0 {
				inner := s[i+1 : i+end]
				if strings.HasPrefix(inner, "http://") || strings.HasPrefix(inner, "https://") {
					b.WriteString(inner)
					i += end + 1
					continue
				}
			}
		case c == '*' || c == '_':
			if text, next, ok := emphasis(s, i); ok {
				b.WriteString(Inline(text))
				i = next
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// codeSpan reads the code span opening at s[i]: its text and where it
// ends.
func codeSpan(s string, i int) (string, int, bool) {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	ticks := s[i : i+n]
	rest := s[i+n:]
	for off := 0; off < len(rest); {
		j := strings.Index(rest[off:], ticks)
		if j < 0 {
			return "", 0, false
		}
		j += off
		end := j + n
		if end < len(rest) && rest[end] == '`' {
			// A longer run of backticks does not close this span.
			for end < len(rest) && rest[end] == '`' {
				end++
			}
			off = end
			continue
		}
		text := rest[:j]
		if len(text) >= 2 && text[0] == ' ' && text[len(text)-1] == ' ' && strings.TrimSpace(text) != "" {
			text = text[1 : len(text)-1]
		}
		return text, i + n + end, true
	}
	return "", 0, false
}

// link reads [text](url) opening at s[i] == '['.
func link(s string, i int) (text, url string, next int, ok bool) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '[':
			depth++
		case ']':
			depth--
			if depth > 0 {
				continue
			}
			if j+1 >= len(s) || s[j+1] != '(' {
				return "", "", 0, false
			}
			end := strings.IndexByte(s[j+2:], ')')
			if end < 0 {
				return "", "", 0, false
			}
			url = strings.TrimSpace(s[j+2 : j+2+end])
			if sp := strings.IndexAny(url, " \t"); sp >= 0 {
				url = url[:sp] // drop a "title"
			}
			return s[i+1 : j], url, j + 2 + end + 1, true
		}
	}
	return "", "", 0, false
}

// emphasis reads *x*, **x**, _x_ or __x__ opening at s[i]. Like Markdown,
// the opening delimiter must be followed and the closing one preceded by
// a non-space, and underscores only count at word boundaries (so
// env_file and MIRRORD_CONFIG_FILE stay as they are).
func emphasis(s string, i int) (string, int, bool) {
	c := s[i]
	n := 1
	if i+1 < len(s) && s[i+1] == c {
		n = 2
	}
	delim := s[i : i+n]
	open := i + n
	if open >= len(s) || isSpace(s[open]) {
		return "", 0, false
	}
	if c == '_' && i > 0 && isWord(s[i-1]) {
		return "", 0, false
	}
	for off := open; off < len(s); {
		j := strings.Index(s[off:], delim)
		if j < 0 {
			return "", 0, false
		}
		j += off
		after := j + n
		switch {
		case j == open || isSpace(s[j-1]):
			off = j + 1
			continue
		case n == 1 && after < len(s) && s[after] == c:
			// Part of a longer run: not this delimiter.
			off = after + 1
			continue
		case c == '_' && after < len(s) && isWord(s[after]):
			off = after
			continue
		}
		return s[open:j], after, true
	}
	return "", 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isPunct(c byte) bool {
	return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}
