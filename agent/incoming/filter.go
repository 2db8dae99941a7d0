package incoming

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// regexTimeout bounds one regex match (regexp2 backtracks).
const regexTimeout = time.Second

// Filter is a compiled protocol.HTTPFilter.
type Filter struct {
	header, path *regexp2.Regexp
	method       string
	all, any     []*Filter
	isAll, isAny bool
}

// CompileFilter compiles f; regexes are case-insensitive like mirrord's (?i).
func CompileFilter(f *protocol.HTTPFilter) (*Filter, error) {
	if err := f.Validate("filter"); err != nil {
		return nil, err
	}
	return compile(f, "filter")
}

func compile(f *protocol.HTTPFilter, at string) (*Filter, error) {
	out := &Filter{}
	re := func(expr, field string) (*regexp2.Regexp, error) {
		r, err := regexp2.Compile(expr, regexp2.IgnoreCase)
		if err != nil {
			return nil, fmt.Errorf("%s.%s %q: %w", at, field, expr, err)
		}
		r.MatchTimeout = regexTimeout
		return r, nil
	}
	var err error
	switch {
	case f.Header != "":
		out.header, err = re(f.Header, "header")
	case f.Path != "":
		out.path, err = re(f.Path, "path")
	case f.Method != "":
		out.method = strings.ToUpper(f.Method)
	case f.AllOf != nil:
		out.isAll = true
		for i := range f.AllOf {
			c, err := compile(&f.AllOf[i], fmt.Sprintf("%s.all_of[%d]", at, i))
			if err != nil {
				return nil, err
			}
			out.all = append(out.all, c)
		}
	case f.AnyOf != nil:
		out.isAny = true
		for i := range f.AnyOf {
			c, err := compile(&f.AnyOf[i], fmt.Sprintf("%s.any_of[%d]", at, i))
			if err != nil {
				return nil, err
			}
			out.any = append(out.any, c)
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Match reports whether req matches. A regex that times out does not match.
func (f *Filter) Match(req *http.Request) bool {
	switch {
	case f.header != nil:
		if req.Host != "" && matchString(f.header, "Host: "+req.Host) {
			return true
		}
		for name, values := range req.Header {
			for _, v := range values {
				if matchString(f.header, name+": "+v) {
					return true
				}
			}
		}
		return false
	case f.path != nil:
		return matchString(f.path, req.URL.Path) || matchString(f.path, req.URL.RequestURI())
	case f.method != "":
		return strings.EqualFold(req.Method, f.method)
	case f.isAll:
		for _, c := range f.all {
			if !c.Match(req) {
				return false
			}
		}
		return true
	case f.isAny:
		for _, c := range f.any {
			if c.Match(req) {
				return true
			}
		}
		return false
	}
	return false
}

func matchString(re *regexp2.Regexp, s string) bool {
	ok, err := re.MatchString(s)
	return err == nil && ok
}
