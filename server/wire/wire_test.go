package wire

import (
	"bytes"
	"context"
	"errors"
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
		if r, ok := msg.(jsonrpc2.RequestMessage); ok {
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
	if m := msg.(jsonrpc2.RequestMessage).Method(); m != "ok" {
		t.Errorf("method = %q", m)
	}
}

func TestWriteFrames(t *testing.T) {
	out := &bytes.Buffer{}
	s := New(rwc{strings.NewReader(""), out})
	if _, err := s.Write(context.Background(), jsonrpc2.NewNotification("x", jsonrpc2.RawMessage(`{"a":1}`))); err != nil {
		t.Fatal(err)
	}
	back := New(rwc{bytes.NewReader(out.Bytes()), &bytes.Buffer{}})
	msg, _, err := back.Read(context.Background())
	if err != nil || msg.(jsonrpc2.RequestMessage).Method() != "x" {
		t.Fatalf("round trip: %v %v", msg, err)
	}
}

// FuzzStream: any byte stream ends in an error from the reader, never a
// panic or an endless loop.
func FuzzStream(f *testing.F) {
	f.Add([]byte(frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)))
	f.Add([]byte("Content-Length: 5\r\n\r\n{}{}{Content-Length: 2\r\n\r\n[]"))
	f.Add([]byte("\n\n\nContent-Length:999999999999\r\n\r\n"))
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
