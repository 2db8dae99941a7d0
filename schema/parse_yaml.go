package schema

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxAliasNodes bounds the nodes produced by expanding YAML aliases
// ("billion laughs").
const maxAliasNodes = 100000

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document into a Node tree.
//
// Booleans follow YAML 1.2's core schema, as gopkg.in/yaml.v3 resolves
// them: only true/false (and their True/TRUE/False/FALSE spellings) are
// booleans. YAML 1.1 words such as on/off/yes/no stay strings, so
// `incoming: off` is the incoming mode "off" (the same result as the
// boolean false would give) and `tcp: no` is a type error that names the
// expected boolean.
func parseYAML(text string) (*Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errEOF(err)) {
			// An empty document is an empty config.
			return &Node{Kind: KindObject}, nil
		}
		return nil, yamlSyntaxError(text, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		li := newLineIndex(text)
		off := yamlOffset(text, li, extra.Line, extra.Column)
		return nil, &syntaxError{Start: off, End: off + 1, Msg: "a config file must hold exactly one YAML document"}
	}
	c := &yamlConverter{text: text, li: newLineIndex(text)}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return &Node{Kind: KindObject}, nil
		}
		root = root.Content[0]
	}
	return c.convert(root, 0)
}

// errEOF returns io.EOF when err is it, without importing io for one use.
func errEOF(err error) error {
	if err != nil && err.Error() == "EOF" {
		return err
	}
	return errors.New("not eof")
}

func yamlSyntaxError(text string, err error) error {
	msg := err.Error()
	li := newLineIndex(text)
	if line, ok := yamlProblemLine(text, li, yamlProblem(msg)); ok {
		start := li.starts[line]
		end := len(text)
		if line+1 < len(li.starts) {
			end = li.starts[line+1] - 1
		}
		for start < end && (text[start] == ' ' || text[start] == '\t') {
			start++
		}
		return &syntaxError{Start: start, End: end, Msg: yamlProblem(msg)}
	}
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if line < 1 {
			line = 1
		}
		if line > len(li.starts) {
			line = len(li.starts)
		}
		start := li.starts[line-1]
		end := len(text)
		if line < len(li.starts) {
			end = li.starts[line] - 1
		}
		return &syntaxError{Start: start, End: end, Msg: m[2]}
	}
	return &syntaxError{Start: 0, End: 0, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// yamlProblem strips yaml.v3's "yaml: line N: " prefix.
func yamlProblem(msg string) string {
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(msg, "yaml: ")
}

// maxYAMLProbeBytes bounds the work of the search below (the bytes
// re-parsed in total); past it the reported line is used as is.
const maxYAMLProbeBytes = 4 << 20

// yamlProblemLine finds the line of a YAML syntax error. yaml.v3 often
// reports the line where the enclosing block started, or no line at all,
// so the document is re-parsed line by line: the first prefix that fails
// with the same problem ends on the offending line.
func yamlProblemLine(text string, li *lineIndex, problem string) (int, bool) {
	budget := maxYAMLProbeBytes
	for k := 0; k < len(li.starts); k++ {
		end := len(text)
		if k+1 < len(li.starts) {
			end = li.starts[k+1]
		}
		if budget -= end; budget < 0 {
			return 0, false
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(text[:end]), &n); err != nil && yamlProblem(err.Error()) == problem {
			return k, true
		}
	}
	return 0, false
}

// yamlOffset converts yaml.v3's 1-based line and rune column to a byte offset.
func yamlOffset(text string, li *lineIndex, line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(li.starts) {
		return len(text)
	}
	off := li.starts[line-1]
	if line == 1 && strings.HasPrefix(text, bom) {
		off += len(bom) // yaml.v3 reads the BOM but does not count it as a column
	}
	for c := 1; c < col && off < len(text) && text[off] != '\n' && text[off] != '\r'; c++ {
		_, size := utf8.DecodeRuneInString(text[off:])
		off += size
	}
	return off
}

type yamlConverter struct {
	text  string
	li    *lineIndex
	nodes int
}

func (c *yamlConverter) errAt(n *yaml.Node, format string, args ...any) error {
	start := yamlOffset(c.text, c.li, n.Line, n.Column)
	return &syntaxError{Start: start, End: c.scalarEnd(n, start), Msg: sprintf(format, args...)}
}

func (c *yamlConverter) convert(n *yaml.Node, depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, c.errAt(n, "the document is nested more than %d levels deep", maxDepth)
	}
	c.nodes++
	if c.nodes > maxAliasNodes {
		return nil, c.errAt(n, "the document expands to more than %d values (aliases)", maxAliasNodes)
	}
	start := yamlOffset(c.text, c.li, n.Line, n.Column)
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.errAt(n, "unknown alias")
		}
		v, err := c.convert(n.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		cp := *v
		cp.Start, cp.End = start, start+1+len(n.Value)
		return &cp, nil
	case yaml.MappingNode:
		out := &Node{Kind: KindObject, Start: start, End: start}
		if n.Style&yaml.FlowStyle != 0 {
			out.End = start + 1
		}
		var merges []*Node
		var seen keySet
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, c.errAt(k, "mapping keys must be strings")
			}
			if k.ShortTag() == "!!merge" {
				// `<<: *base` merges the keys of another mapping (or of
				// each mapping of a list); keys written here win.
				val, err := c.convert(v, depth+1)
				if err != nil {
					return nil, err
				}
				switch val.Kind {
				case KindObject:
					merges = append(merges, val)
				case KindArray:
					for _, it := range val.Items {
						if it.Kind != KindObject {
							return nil, c.errAt(v, "`<<` merges mappings only")
						}
						merges = append(merges, it)
					}
				default:
					return nil, c.errAt(v, "`<<` merges mappings only")
				}
				continue
			}
			ks := yamlOffset(c.text, c.li, k.Line, k.Column)
			ke := c.scalarEnd(k, ks)
			if seen.has(k.Value, out) {
				return &Node{}, &syntaxError{Start: ks, End: ke, Msg: sprintf("duplicate key %q", k.Value)}
			}
			val, err := c.convert(v, depth+1)
			if err != nil {
				return nil, err
			}
			out.Members = append(out.Members, Member{Key: k.Value, KeyStart: ks, KeyEnd: ke, Value: val})
			out.End = max(out.End, val.End)
		}
		for _, m := range merges {
			for _, mb := range m.Members {
				if !seen.has(mb.Key, out) {
					out.Members = append(out.Members, mb)
				}
			}
		}
		if len(out.Members) > 0 && n.Style&yaml.FlowStyle == 0 {
			out.Start = min(out.Start, out.Members[0].KeyStart)
		}
		return out, nil
	case yaml.SequenceNode:
		out := &Node{Kind: KindArray, Start: start, End: start + 1}
		for _, it := range n.Content {
			val, err := c.convert(it, depth+1)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, val)
			out.End = max(out.End, val.End)
		}
		return out, nil
	case yaml.ScalarNode:
		return c.scalar(n, start)
	}
	return nil, c.errAt(n, "unsupported YAML node")
}

func (c *yamlConverter) scalar(n *yaml.Node, start int) (*Node, error) {
	out := &Node{Start: start, End: c.scalarEnd(n, start)}
	switch n.ShortTag() {
	case "!!null":
		out.Kind = KindNull
	case "!!bool":
		out.Kind = KindBool
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on", "y":
			out.Bool = true
		}
	case "!!int":
		v := strings.ReplaceAll(n.Value, "_", "")
		if strings.HasPrefix(v, "0o") || strings.HasPrefix(v, "-0o") || strings.HasPrefix(v, "+0o") {
			v = strings.Replace(v, "0o", "0", 1)
		}
		i, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(v, 0, 64)
			if uerr != nil {
				return nil, c.errAt(n, "integer %s is out of range", n.Value)
			}
			out.Kind, out.Str = KindNumber, strconv.FormatUint(u, 10)
			return out, nil
		}
		out.Kind, out.Str = KindNumber, strconv.FormatInt(i, 10)
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, c.errAt(n, "number %s cannot be represented in a config (infinite or not a number)", n.Value)
		}
		out.Kind, out.Str = KindNumber, strconv.FormatFloat(f, 'g', -1, 64)
	default: // !!str, !!timestamp, !!binary and custom tags keep their text
		out.Kind, out.Str = KindString, n.Value
	}
	return out, nil
}

// scalarEnd finds the end offset of a scalar that starts at start.
func (c *yamlConverter) scalarEnd(n *yaml.Node, start int) int {
	t := c.text
	if start >= len(t) {
		return len(t)
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return min(len(t), start+1+len(n.Value))
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(t); i++ {
			if t[i] == '\\' {
				i++
				continue
			}
			if t[i] == '"' {
				return i + 1
			}
		}
		return len(t)
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(t); i++ {
			if t[i] == '\'' {
				if i+1 < len(t) && t[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(t)
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || n.Kind != yaml.ScalarNode:
		end := strings.IndexAny(t[start:], "\r\n")
		if end < 0 {
			return len(t)
		}
		return start + end
	default:
		if !strings.Contains(n.Value, "\n") && strings.HasPrefix(t[start:], n.Value) {
			return start + len(n.Value)
		}
		end := strings.IndexAny(t[start:], "\r\n")
		if end < 0 {
			return len(t)
		}
		return start + end
	}
}
