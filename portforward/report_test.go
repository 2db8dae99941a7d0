package portforward

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

func TestReporterLevels(t *testing.T) {
	tests := []struct {
		level int
		want  string
	}{
		{Quiet, "status\n"},
		{Connections, "status\nconn\n"},
		{Data, "status\nconn\n> c 2026/11/21 07:00:00.000001 length=2 from=0 to=1\nok\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		r := NewReporter(&buf, tt.level)
		r.now = func() time.Time { return time.Date(2026, 11, 21, 7, 0, 0, 1000, time.UTC) }
		r.Statusf("status")
		r.Connf("conn")
		r.dump("c", '>', 0, []byte("ok"))
		if buf.String() != tt.want {
			t.Errorf("level %d: got %q, want %q", tt.level, buf.String(), tt.want)
		}
	}
	var nilReporter *Reporter
	nilReporter.Statusf("nothing") // a nil reporter reports nothing
}

func TestDumpEscapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"text", "hello", "hello\n"},
		{"lines", "a\r\nb\n", "a\\r\\n\nb\\n\n"},
		{"binary", "\x00\xff\\\t", "\\x00\\xFF\\\\\t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := NewReporter(&buf, Data)
			r.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
			w := &dumpWriter{w: &bytes.Buffer{}, r: r, conn: "x", dir: '<', off: 10}
			if _, err := w.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			header := "< x 2026/01/02 03:04:05.000000 length=" + strconv.Itoa(len(tt.in)) + " from=10 to=" + strconv.Itoa(10+len(tt.in)-1) + "\n"
			if got := buf.String(); got != header+tt.want {
				t.Errorf("got %q, want %q", got, header+tt.want)
			}
			if w.off != int64(10+len(tt.in)) {
				t.Errorf("offset %d after the write", w.off)
			}
		})
	}
}
