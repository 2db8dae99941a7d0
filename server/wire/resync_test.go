package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.lsp.dev/jsonrpc2"
)

// readAll reads s until the reader fails and returns the methods of the
// requests read, the bad input reported and the final error.
func readAll(t *testing.T, s *Stream) (methods []string, bad []error, final error) {
	t.Helper()
	s.OnBadInput = func(err error) { bad = append(bad, err) }
	for {
		msg, _, err := s.Read(context.Background())
		if err != nil {
			return methods, bad, err
		}
		if r, ok := msg.(jsonrpc2.Request); ok {
			methods = append(methods, r.Method())
		}
	}
}

func requests(n int) (string, []string) {
	var b strings.Builder
	var want []string
	for i := range n {
		m := "m" + strconv.Itoa(i)
		b.WriteString(frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q}`, i+10, m)))
		want = append(want, m)
	}
	return b.String(), want
}

// TestWrongLengthResyncs: a Content-Length that is wrong — counted in
// characters rather than bytes, one short or long — costs that one message;
// the 20 requests that follow are all read.
func TestWrongLengthResyncs(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"didOpen","params":{"text":"é"}}`
	if utf8.RuneCountInString(body) != len(body)-1 {
		t.Fatal("the body must have one two-byte character")
	}
	following, want := requests(20)
	for _, tc := range []struct {
		name  string
		first string
	}{
		{"counted in characters", "Content-Length: " + strconv.Itoa(utf8.RuneCountInString(body)) + "\r\n\r\n" + body},
		{"ten short", "Content-Length: " + strconv.Itoa(len(body)-10) + "\r\n\r\n" + body},
		{"one long", "Content-Length: " + strconv.Itoa(len(body)+1) + "\r\n\r\n" + body},
		{"thirty long", "Content-Length: " + strconv.Itoa(len(body)+30) + "\r\n\r\n" + body},
		{"pretty body, short", "Content-Length: 20\r\n\r\n{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"method\": \"x\"\n}"},
		{"garbage without newline", "}}}}"},
		{"lower-case header after garbage", "xx" + strings.ToLower(frame(`{"jsonrpc":"2.0","method":"skip"}`))[:20] + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &bytes.Buffer{}
			s := New(rwc{strings.NewReader(tc.first + following), out})
			got, bad, final := readAll(t, s)
			if !errors.Is(final, io.EOF) {
				t.Errorf("final error = %v, want EOF", final)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("read %d requests %v, want the 20 that follow", len(got), got)
			}
			if len(bad) == 0 && !strings.HasPrefix(tc.name, "garbage") {
				t.Error("the bad frame was not reported")
			}
		})
	}
}

// TestHugeDeclaredLength: 2^31 and 2^63 (and beyond) are refused at once,
// with a log line naming the limit, nothing is allocated for them, and the
// requests after them are read.
func TestHugeDeclaredLength(t *testing.T) {
	following, want := requests(20)
	for _, declared := range []string{"2147483648", "9223372036854775807", "9223372036854775808", "18446744073709551616", "99999999999999999999999"} {
		t.Run(declared, func(t *testing.T) {
			input := "Content-Length: " + declared + "\r\n\r\n" + `{"jsonrpc":"2.0","id":1,"method":"huge"}` + following
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got, bad, final := readAll(t, New(rwc{strings.NewReader(input), &bytes.Buffer{}}))
			runtime.ReadMemStats(&after)
			if !errors.Is(final, io.EOF) {
				t.Errorf("final error = %v, want EOF", final)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("read %v, want the 20 that follow", got)
			}
			if len(bad) != 1 {
				t.Fatalf("bad input reported %d times (%v), want once", len(bad), bad)
			}
			if msg := bad[0].Error(); !strings.Contains(msg, "exceeds the limit of 67108864 bytes") && !strings.Contains(msg, "not a length") {
				t.Errorf("log line %q does not name the limit", msg)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
				t.Errorf("reading allocated %d bytes", grown)
			}
		})
	}
}

// TestBodyReadIncrementally: a declared length within the limit whose
// bytes never come allocates for what came, not for what was declared.
func TestBodyReadIncrementally(t *testing.T) {
	input := "Content-Length: 60000000\r\n\r\n" + strings.Repeat("x", 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := NewFrameReader(strings.NewReader(input)).Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
		t.Errorf("a 1000-byte partial body allocated %d bytes", grown)
	}
}

// FuzzResync: whatever garbage without a "C" comes first (it can then hold
// no header of its own), the valid frame after it is read.
func FuzzResync(f *testing.F) {
	for _, s := range []string{"", "}", "\r\n\r\n", "x: y", "x: y\r\n", "x: y\r\n\r\n{", strings.Repeat("z", 5000), "ontent-Length: 9\r\n\r\n", "\n\n{\"a\":"} {
		f.Add([]byte(s))
	}
	probe := frame(`{"jsonrpc":"2.0","id":7,"method":"probe"}`)
	f.Fuzz(func(t *testing.T, garbage []byte) {
		garbage = bytes.Map(func(r rune) rune {
			if r == 'c' || r == 'C' {
				return -1
			}
			return r
		}, garbage)
		got, _, _ := readAll(t, New(rwc{bytes.NewReader(append(garbage, probe...)), &bytes.Buffer{}}))
		if len(got) == 0 || got[len(got)-1] != "probe" {
			t.Fatalf("after %q: read %v, want probe last", garbage, got)
		}
	})
}
