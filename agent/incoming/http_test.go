package incoming

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

func TestIsRequestLine(t *testing.T) {
	tests := map[string]bool{
		"GET / HTTP/1.1\r":           true,
		"POST /a?b=c HTTP/1.0":       true,
		"OPTIONS * HTTP/1.1":         true,
		"PRI * HTTP/2.0\r":           false,
		"get / HTTP/1.1":             false,
		"GET / HTTP/1.":              false,
		"GET /":                      false,
		"SSH-2.0-OpenSSH_9.6":        false,
		"\x16\x03\x01 / HTTP/1.1":    false,
		"GET /with space HTTP/1.1\r": true,
	}
	for line, want := range tests {
		if got := IsRequestLine([]byte(line)); got != want {
			t.Errorf("IsRequestLine(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestDetectHTTP(t *testing.T) {
	tests := map[string]bool{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n": true,
		"ping\n":                            false,
		"\x16\x03\x01\x02\x00":              false,
		"GET / HTTP/1.1":                    false, // EOF before the line ends
	}
	for in, want := range tests {
		br := bufio.NewReader(strings.NewReader(in))
		if got := DetectHTTP(br); got != want {
			t.Errorf("DetectHTTP(%q) = %v, want %v", in, got, want)
		}
		if br.Buffered() > 0 {
			peek, _ := br.Peek(br.Buffered())
			if !strings.HasPrefix(in, string(peek)) {
				t.Errorf("DetectHTTP(%q) consumed input", in)
			}
		}
	}
}

func TestFilterMatch(t *testing.T) {
	req := func(method, target string, headers ...string) *http.Request {
		raw := method + " " + target + " HTTP/1.1\r\nHost: svc\r\n" + strings.Join(headers, "\r\n")
		if len(headers) > 0 {
			raw += "\r\n"
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name   string
		filter protocol.HTTPFilter
		req    *http.Request
		want   bool
	}{
		{"header", protocol.HTTPFilter{Header: "^x-user: alice$"}, req("GET", "/", "X-User: alice"), true},
		{"header other value", protocol.HTTPFilter{Header: "^x-user: alice$"}, req("GET", "/", "X-User: bob"), false},
		{"host header", protocol.HTTPFilter{Header: "^host: svc$"}, req("GET", "/"), true},
		{"look-ahead path", protocol.HTTPFilter{Path: "^(?!/health)"}, req("GET", "/api"), true},
		{"look-ahead path excluded", protocol.HTTPFilter{Path: "^(?!/health)"}, req("GET", "/health"), false},
		{"path with query", protocol.HTTPFilter{Path: `^/a\?x=1$`}, req("GET", "/a?x=1"), true},
		{"method", protocol.HTTPFilter{Method: "delete"}, req("DELETE", "/"), true},
		{"all_of", protocol.HTTPFilter{AllOf: []protocol.HTTPFilter{{Method: "GET"}, {Path: "^/a"}}}, req("GET", "/b"), false},
		{"any_of", protocol.HTTPFilter{AnyOf: []protocol.HTTPFilter{{Method: "POST"}, {Path: "^/b"}}}, req("GET", "/b"), true},
		{"backreference", protocol.HTTPFilter{Path: `^/(\w+)/\1$`}, req("GET", "/x/x"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := CompileFilter(&tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.req); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := CompileFilter(&protocol.HTTPFilter{AnyOf: []protocol.HTTPFilter{{Path: "("}}}); err == nil || !strings.Contains(err.Error(), "filter.any_of[0].path") {
		t.Fatalf("bad regex error %v does not say where", err)
	}
}

// Catastrophic backtracking is cut by the match timeout instead of hanging.
func TestFilterTimeout(t *testing.T) {
	f, err := CompileFilter(&protocol.HTTPFilter{Path: "^(a+)+$"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/"+strings.Repeat("a", 40)+"!", nil)
	done := make(chan bool, 1)
	go func() { done <- f.Match(r) }()
	select {
	case got := <-done:
		if got {
			t.Fatal("matched")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("regex match did not time out")
	}
}

func FuzzIsRequestLine(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r"))
	f.Add([]byte("PRI * HTTP/2.0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !IsRequestLine(b) {
			return
		}
		line := strings.TrimSuffix(string(b), "\r")
		method, _, _ := strings.Cut(line, " ")
		if method == "" || strings.ToUpper(method) != method || !strings.Contains(line, " HTTP/1.") {
			t.Fatalf("accepted %q", b)
		}
	})
}

func FuzzCompileFilter(f *testing.F) {
	f.Add("^(?!/health)", "X-User: alice", "GET")
	f.Fuzz(func(t *testing.T, path, header, method string) {
		flt := protocol.HTTPFilter{AnyOf: []protocol.HTTPFilter{{Path: path}, {Header: header}, {Method: method}}}
		c, err := CompileFilter(&flt)
		if err != nil {
			return
		}
		r, _ := http.NewRequest("GET", "http://svc/x", nil)
		r.Header.Set("X-User", "alice")
		_ = c.Match(r)
	})
}
