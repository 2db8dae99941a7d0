package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"go.lsp.dev/jsonrpc2"
)

type rwc struct {
	io.Reader
	out *bytes.Buffer
}

func (r rwc) Write(p []byte) (int, error) { return r.out.Write(p) }
func (rwc) Close() error                  { return nil }

func frame(body string) string {
	return "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestReadRecovers(t *testing.T) {
	input := strings.Join([]string{
		"\r\n", // stray blank line
		frame(`{"jsonrpc":"2.0","id":1,"method":"a"}`),
		"no colon here\r\n",
		"Content-Length: -3\r\n\r\n",
		"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(`{"jsonrpc":"2.0","method":"b","params":{}}`),
		frame(`{not json`),
		frame(`{"jsonrpc":"2.0","id":"x","method":"c","result":1}`),
		strings.Repeat("y", 10000) + "\r\n",
		frame(`{"jsonrpc":"2.0","id":2,"method":"d"}`),
		"Content-Length: 50\r\n\r\n{}",
	}, "")
	out := &bytes.Buffer{}
	s := New(rwc{strings.NewReader(input), out})
	var bad int
	s.OnBadInput = func(error) { bad++ }
	var methods []string
	for {
		msg, _, err := s.Read(context.Background())
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("final error = %v, want unexpected EOF", err)
			}
			break
		}
		if r, ok := msg.(jsonrpc2.Request); ok {
			methods = append(methods, r.Method())
		}
	}
	if strings.Join(methods, ",") != "a,b,d" {
		t.Errorf("methods = %v, want a,b,d", methods)
	}
	if bad != 5 {
		t.Errorf("bad input reported %d times, want 5", bad)
	}
	answers := out.String()
	if !strings.Contains(answers, `"id":null,"error":{"code":-32700`) {
		t.Errorf("no parse error answer in %q", answers)
	}
	if !strings.Contains(answers, `"id":"x","error":{"code":-32600`) {
		t.Errorf("no invalid request answer with the id in %q", answers)
	}
}

func TestOversizedBodyIsSkipped(t *testing.T) {
	input := "Content-Length: 200\r\n\r\n" + strings.Repeat("z", 200) + frame(`{"jsonrpc":"2.0","method":"ok"}`)
	s := New(rwc{strings.NewReader(input), &bytes.Buffer{}})
	s.SetMaxBody(100)
	msg, _, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m := msg.(jsonrpc2.Request).Method(); m != "ok" {
		t.Errorf("method = %q", m)
	}
}

func TestWriteFrames(t *testing.T) {
	out := &bytes.Buffer{}
	s := New(rwc{strings.NewReader(""), out})
	note, err := jsonrpc2.NewNotification("x", json.RawMessage(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	back := New(rwc{bytes.NewReader(out.Bytes()), &bytes.Buffer{}})
	msg, _, err := back.Read(context.Background())
	if err != nil || msg.(jsonrpc2.Request).Method() != "x" {
		t.Fatalf("round trip: %v %v", msg, err)
	}
}

// FuzzStream: any byte stream ends in an error from the reader, never a
// panic or an endless loop.
func FuzzStream(f *testing.F) {
	f.Add([]byte(frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)))
	f.Add([]byte("Content-Length: 5\r\n\r\n{}{}{Content-Length: 2\r\n\r\n[]"))
	f.Add([]byte("\n\n\nContent-Length:999999999999\r\n\r\n"))
	f.Add([]byte("Content-Length: 9223372036854775808\r\n\r\n{}" + frame(`{"jsonrpc":"2.0","method":"a"}`)))
	f.Add([]byte("Content-Length: 30\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"é\"}" + frame(`{"jsonrpc":"2.0","method":"a"}`)))
	f.Add([]byte("Content-Length: 40\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"a\"}" + frame(`{"jsonrpc":"2.0","method":"a"}`)))
	f.Add([]byte("xcontent-length: 2\r\n\r\n{}CONTENT-LENGTH:2\n\n[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(rwc{bytes.NewReader(data), &bytes.Buffer{}})
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("more messages (%d) than bytes", i)
			}
			if _, _, err := s.Read(context.Background()); err != nil {
				return
			}
		}
	})
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // the message type, or "bad <code> <id> <answered>"
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"a","params":{}}`, "call a"},
		{`{"jsonrpc":"2.0","id":"x","method":"a"}`, "call a"},
		{`{"jsonrpc":"2.0","method":"a"}`, "notification a"},
		{`{"jsonrpc":"2.0","id":null,"method":"a"}`, "notification a"},
		{`{"jsonrpc":"2.0","id":-2147483648,"method":"a"}`, "call a"},
		{`{"jsonrpc":"2.0","id":1,"result":null}`, "response"},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}`, "response"},
		{`{"jsonrpc":"2.0","id":1,"method":`, "bad -32700 null true"},
		{`{"jsonrpc":"2.0","method":"a"} {}`, "bad -32700 null true"},
		{`[{"jsonrpc":"2.0","method":"a"}]`, "bad -32600 null true"},
		{`42`, "bad -32600 null true"},
		{`{}`, "bad -32600 null true"},
		{`{"id":1,"method":"a"}`, "bad -32600 1 true"},
		{`{"jsonrpc":"1.0","id":1,"method":"a"}`, "bad -32600 1 true"},
		{`{"jsonrpc":"2.0","id":1,"method":"a","result":1}`, "bad -32600 1 true"},
		{`{"jsonrpc":"2.0","id":3000000000,"method":"a"}`, "bad -32600 3000000000 true"},
		{`{"jsonrpc":"2.0","id":1.5,"method":"a"}`, "bad -32600 null true"},
		{`{"jsonrpc":"2.0","id":"","method":"a"}`, `bad -32600 "" true`},
		{`{"jsonrpc":"2.0","id":[1],"method":"a"}`, "bad -32600 null true"},
		{`{"jsonrpc":"2.0","id":2,"method":5}`, "bad -32600 2 true"},
		{`{"jsonrpc":"2.0","id":2,"method":""}`, "bad -32600 2 true"},
		{`{"jsonrpc":"2.0","id":1}`, "bad -32600 1 true"},
		{`{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}`, "bad -32600 1 false"},
		{`{"jsonrpc":"2.0","id":1,"error":null}`, "bad -32600 1 false"},
		{`{"jsonrpc":"2.0","id":1,"error":"boom"}`, "bad -32600 1 false"},
		{`{"jsonrpc":"2.0","id":null,"result":1}`, "bad -32600 null false"},
	} {
		msg, bad := Decode([]byte(tc.body))
		var got string
		switch m := msg.(type) {
		case *jsonrpc2.Call:
			got = "call " + m.Method()
		case *jsonrpc2.Notification:
			got = "notification " + m.Method()
		case *jsonrpc2.Response:
			got = "response"
		}
		if bad != nil {
			got = fmt.Sprintf("bad %d %s %v", bad.Code, bad.ID, bad.answer)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.body, got, tc.want)
		}
	}
}

// FuzzDecode: Decode classifies every body without panicking; an accepted
// message encodes back to a body Decode accepts, and a refused one gets an
// answer that is a JSON-RPC error response.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":[1,"<&>"]}}`,
		`{"jsonrpc":"2.0","id":"x","method":"a"}`,
		`{"jsonrpc":"2.0","id":null,"method":"a"}`,
		`{"jsonrpc":"2.0","id":1,"result":null}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no","data":[1]}}`,
		`{"jsonrpc":"2.0","id":3000000000,"method":"a"}`,
		`{"jsonrpc":"2.0","id":"","method":"a"}`,
		`[{"jsonrpc":"2.0","method":"a"}]`, `{}`, `42`, `{"jsonrpc":"2.0","method":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, bad := Decode(body)
		if (msg == nil) == (bad == nil) {
			t.Fatalf("Decode(%q) = %v, %v: want exactly one", body, msg, bad)
		}
		if bad != nil {
			var answer struct {
				Version string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   *jsonrpc2.Error `json:"error"`
			}
			if err := json.Unmarshal(bad.response(), &answer); err != nil || answer.Version != "2.0" || answer.Error == nil || answer.Error.Code != bad.Code {
				t.Fatalf("answer to %q: %s (%v)", body, bad.response(), err)
			}
			return
		}
		frame, err := appendFrame(nil, msg)
		if err != nil {
			t.Fatalf("encoding %T from %q: %v", msg, body, err)
		}
		again, _, err := NewFrameReader(bytes.NewReader(frame)).Next()
		if err != nil {
			t.Fatalf("reading back the frame %q: %v", frame, err)
		}
		if _, rebad := Decode(again); rebad != nil {
			t.Fatalf("%q decoded, but its encoding %q does not: %v", body, again, rebad)
		}
	})
}

// BenchmarkDecode: checking and decoding a didOpen of a 20 KB document.
func BenchmarkDecode(b *testing.B) {
	text := strings.Repeat(`{"feature": {"fs": "read", "env": true}},\n`, 500)
	params, _ := json.Marshal(map[string]any{"textDocument": map[string]any{"uri": "file:///w/mirrord.json", "languageId": "json", "version": 1, "text": text}})
	body := []byte(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":` + string(params) + `}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, bad := Decode(body); bad != nil {
			b.Fatal(bad)
		}
	}
}
