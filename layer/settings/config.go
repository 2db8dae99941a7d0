package settings

import (
	"fmt"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// valueDecoder reads the untyped parts of the resolved config (maps, lists,
// scalars as the config engine passes them through), remembering the first
// error with its config path.
type valueDecoder struct{ err error }

func (d *valueDecoder) fail(path, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func (d *valueDecoder) obj(v any, path string) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "want an object")
	}
	return m
}

func (d *valueDecoder) str(v any, path string) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(path, "want a string")
	}
	return s
}

// httpFilter converts an http_filter object (header_filter, path_filter,
// method_filter, all_of, any_of; inside all_of/any_of: header, path,
// method); nil when none is set.
func (d *valueDecoder) httpFilter(m map[string]any, at string) *protocol.HTTPFilter {
	var fs []protocol.HTTPFilter
	for _, k := range []string{"header_filter", "header", "path_filter", "path", "method_filter", "method"} {
		x := d.str(m[k], at+"."+k)
		if x == "" {
			continue
		}
		switch k {
		case "header_filter", "header":
			fs = append(fs, protocol.HTTPFilter{Header: x})
		case "path_filter", "path":
			fs = append(fs, protocol.HTTPFilter{Path: x})
		default:
			fs = append(fs, protocol.HTTPFilter{Method: x})
		}
	}
	for _, key := range []string{"all_of", "any_of"} {
		list, ok := m[key].([]any)
		if m[key] != nil && !ok {
			d.fail(at+"."+key, "want a list of filters")
		}
		if !ok {
			continue
		}
		inner := make([]protocol.HTTPFilter, 0, len(list))
		for i, e := range list {
			where := fmt.Sprintf("%s.%s[%d]", at, key, i)
			if f := d.httpFilter(d.obj(e, where), where); f != nil {
				inner = append(inner, *f)
			}
		}
		if key == "all_of" {
			fs = append(fs, protocol.HTTPFilter{AllOf: inner})
		} else {
			fs = append(fs, protocol.HTTPFilter{AnyOf: inner})
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return &fs[0]
	}
	d.fail(at, "set only one of header_filter, path_filter, method_filter, all_of, any_of")
	return nil
}
