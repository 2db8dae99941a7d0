package portforward

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Verbosity levels of a Reporter.
const (
	// Quiet reports routes becoming ready, target changes and errors.
	Quiet = 0
	// Connections also reports every connection (-v).
	Connections = 1
	// Data also dumps every chunk of data like `socat -v` (-vv).
	Data = 2
)

// Reporter writes the forwarder's status lines. It is safe for concurrent
// use; a nil *Reporter reports nothing.
type Reporter struct {
	mu    sync.Mutex
	w     io.Writer
	level int
	now   func() time.Time
}

// NewReporter writes to w at the given verbosity.
func NewReporter(w io.Writer, level int) *Reporter {
	return &Reporter{w: w, level: level, now: time.Now}
}

// Level is the verbosity.
func (r *Reporter) Level() int {
	if r == nil {
		return -1
	}
	return r.level
}

// Statusf writes one line at every verbosity.
func (r *Reporter) Statusf(format string, a ...any) { r.linef(Quiet, format, a...) }

// Connf writes one line at -v and above.
func (r *Reporter) Connf(format string, a ...any) { r.linef(Connections, format, a...) }

func (r *Reporter) linef(level int, format string, a ...any) {
	if r == nil || r.level < level {
		return
	}
	line := fmt.Sprintf(format, a...)
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.w, line)
}

// dump writes one data chunk in the style of `socat -v`: a header line with
// the direction, time, length and offsets, then the data with
// non-printable bytes escaped.
func (r *Reporter) dump(conn string, dir byte, from int64, p []byte) {
	if r == nil || r.level < Data {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%c %s %s length=%d from=%d to=%d\n", dir, conn,
		r.now().Format("2006/01/02 15:04:05.000000"), len(p), from, from+int64(len(p))-1)
	for _, c := range p {
		switch {
		case c == '\n':
			b.WriteString("\\n\n")
		case c == '\r':
			b.WriteString("\\r")
		case c == '\t' || c >= 0x20 && c < 0x7f && c != '\\':
			b.WriteByte(c)
		case c == '\\':
			b.WriteString("\\\\")
		default:
			fmt.Fprintf(&b, "\\x%02X", c)
		}
	}
	if len(p) == 0 || p[len(p)-1] != '\n' {
		b.WriteByte('\n')
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	io.WriteString(r.w, b.String())
}

// dumpWriter copies to w and dumps what it wrote.
type dumpWriter struct {
	w    io.Writer
	r    *Reporter
	conn string
	dir  byte
	off  int64
}

func (d *dumpWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if n > 0 {
		d.r.dump(d.conn, d.dir, d.off, p[:n])
		d.off += int64(n)
	}
	return n, err
}
