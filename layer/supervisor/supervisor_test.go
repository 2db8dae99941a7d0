package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

func TestRemoteFiles(t *testing.T) {
	f := newFakeIntproxy(t)
	out, s := supervised(t, f, Config{},
		"cat=/remote/app/config.yaml", "cat=/remote/missing", "stat=/remote/x", "statx=/remote/x",
		"access=/remote/x", "readlink=/remote/link", "cat=/proc/self/comm")
	want := strings.Join([]string{
		"cat remote:/remote/app/config.yaml",
		"cat: error open /remote/missing: no such file or directory",
		"stat 16 -rw-r----- 2",
		"statx 16 100640 2",
		"access <nil>",
		"readlink /remote/target",
		"cat " + "supervisor.test\n",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("probe output:\n%s\nwant:\n%s", out, want)
	}
	// /proc is decided by the fast rules, never asked
	for _, r := range f.requests() {
		if o, ok := r.(wire.Open); ok && strings.HasPrefix(o.Path, "/proc") {
			t.Errorf("asked about %s", o.Path)
		}
	}
	if st := s.Stats(); st.Notifications == 0 || st.Continued == 0 || st.Answered < 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestConnectGoesThroughInterceptor(t *testing.T) {
	f := newFakeIntproxy(t)
	local, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	go func() {
		for {
			c, err := local.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("local server"))
			c.Close()
		}
	}()
	out, _ := supervised(t, f, Config{},
		"connect=192.0.2.7:80", "connect=[::ffff:192.0.2.8]:80", "connect=192.0.2.9:1", "connect="+local.Addr().String(),
		"peer=192.0.2.7:81", "peer="+local.Addr().String())
	want := "connect via intproxy\nconnect via intproxy\nconnect: error dial tcp 192.0.2.9:1: connect: connection refused\nconnect local server\n" +
		"peer 192.0.2.7:81\npeer " + local.Addr().String() + "\n"
	if out != want {
		t.Fatalf("probe output:\n%s\nwant:\n%s", out, want)
	}
	var asked []string
	for _, r := range f.requests() {
		if c, ok := r.(wire.Connect); ok {
			asked = append(asked, c.Addr.String())
		}
	}
	if len(asked) != 6 {
		t.Fatalf("connects asked: %v", asked)
	}
}

func TestBindListenReported(t *testing.T) {
	f := newFakeIntproxy(t)
	f.listenPort = freePort(t)
	out, _ := supervised(t, f, Config{}, "listen=127.0.0.1:8080")
	// the intproxy moved it to listenPort; getsockname (Go's ln.Addr())
	// reports the port the program asked for, as with the C layer
	if want := "listen 127.0.0.1:8080\n"; out != want {
		t.Fatalf("probe output %q, want %q", out, want)
	}
	var got []string
	for _, r := range f.requests() {
		switch r := r.(type) {
		case wire.Bind:
			got = append(got, "bind "+r.Addr.String())
		case wire.Listen:
			got = append(got, fmt.Sprintf("listen %d %s", r.RequestedPort, r.Actual))
		}
	}
	want := []string{"bind 127.0.0.1:8080", fmt.Sprintf("listen 8080 127.0.0.1:%d", f.listenPort)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %v, want %v", got, want)
	}
}

// TestSwappedPathIsNotActedOn: the program rewrites its path buffer after
// the supervisor read it (the hook runs between the read and the check).
// The supervisor asks about, and installs, only the path it read.
func TestSwappedPathIsNotActedOn(t *testing.T) {
	f := newFakeIntproxy(t)
	swapped := 0
	cfg := Config{afterRead: func(n *notif) {
		if int64(n.Nr) != sysOpenat {
			return
		}
		path, err := readPath(n.PID, n.Args[1])
		if err != nil || path != "/remote/checked" {
			return
		}
		if err := writeMem(n.PID, n.Args[1], []byte("/remote/swapped\x00")); err != nil {
			t.Errorf("swap: %v", err)
		}
		swapped++
	}}
	out, _ := supervised(t, f, cfg, "swap=/remote/checked")
	if swapped != 1 {
		t.Fatalf("swapped %d times", swapped)
	}
	if want := "swap buffer=/remote/swapped content=remote:/remote/checked\n"; out != want {
		t.Fatalf("probe output %q, want %q", out, want)
	}
	for _, r := range f.requests() {
		if o, ok := r.(wire.Open); ok && strings.Contains(o.Path, "swapped") {
			t.Fatalf("the supervisor asked about the swapped path: %+v", o)
		}
	}
}

// TestInvalidNotificationIsDropped: the thread is killed after the
// supervisor read its arguments; the ID check fails and nothing is asked
// or installed.
func TestInvalidNotificationIsDropped(t *testing.T) {
	f := newFakeIntproxy(t)
	cfg := Config{afterRead: func(n *notif) {
		if int64(n.Nr) == sysOpenat {
			if path, _ := readPath(n.PID, n.Args[1]); path == "/remote/killed" {
				_ = unix.Kill(int(n.PID), syscall.SIGKILL)
				// wait until the kernel has withdrawn the notification
				for i := 0; i < 1000 && unix.Kill(int(n.PID), 0) == nil; i++ {
					_, _ = os.ReadFile("/proc/self/stat")
				}
			}
		}
	}}
	_, s, err := runSupervised(t, f, cfg, "cat=/remote/killed")
	if err == nil {
		t.Fatal("the probe was not killed")
	}
	for _, r := range f.requests() {
		if o, ok := r.(wire.Open); ok && o.Path == "/remote/killed" {
			t.Fatalf("asked about the path of a dead thread")
		}
	}
	if s.Stats().Dropped == 0 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

// TestNoLeakedFDs: 10,000 notified calls (remote opens, stats, missing
// files, local opens, remote connects) leave no fd behind in the program
// or in the supervisor, and the control connections close with it.
func TestNoLeakedFDs(t *testing.T) {
	f := newFakeIntproxy(t)
	before := countFDs(t)
	out, s := supervised(t, f, Config{}, "loop=10", "fds", "loop=10000", "fds")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("fds before and after the loop differ: %q", out)
	}
	if st := s.Stats(); st.Notifications < 10000 {
		t.Fatalf("only %d notifications", st.Notifications)
	}
	// the fake intproxy closes its ends once it reads EOF
	deadline := time.Now().Add(5 * time.Second)
	for f.openConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.openConns(); n != 0 {
		t.Fatalf("%d control connections left open", n)
	}
	if after := countFDs(t); after != before {
		t.Fatalf("the supervisor's process had %d fds before, %d after", before, after)
	}
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestExecIntroducesNewImage: after execve the process says hello again,
// so skip_processes applies to the new image's name.
func TestExecIntroducesNewImage(t *testing.T) {
	f := newFakeIntproxy(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"skipme", "keepme"} {
		if err := os.Symlink(self, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := supervised(t, f, Config{}, "exec="+filepath.Join(dir, "skipme")+",cat=/remote/b")
	if !strings.Contains(out, "cat: error open /remote/b: no such file or directory") {
		t.Fatalf("the skipped image read a remote file: %q", out)
	}
	out, _ = supervised(t, f, Config{}, "exec="+filepath.Join(dir, "keepme")+",cat=/remote/a")
	if out != "cat remote:/remote/a\n" {
		t.Fatalf("after exec: %q", out)
	}
	var names []string
	for _, r := range f.requests() {
		if h, ok := r.(wire.Hello); ok {
			names = append(names, h.Name)
		}
	}
	if !slices.Contains(names, "skipme") || !slices.Contains(names, "keepme") {
		t.Fatalf("hellos: %v", names)
	}
}

// TestFailedExecKeepsProcess: an execve that fails leaves the process
// as it was — no new hello, so its subscriptions and files stay (the C
// layer's behaviour) — while a successful one is a new image
// (TestExecIntroducesNewImage).
func TestFailedExecKeepsProcess(t *testing.T) {
	f := newFakeIntproxy(t)
	out, _ := supervised(t, f, Config{}, "cat=/remote/a", "execfail=/nonexistent/prog", "cat=/remote/b")
	if want := "cat remote:/remote/a\nexecfail no such file or directory\ncat remote:/remote/b\n"; out != want {
		t.Fatalf("probe output %q, want %q", out, want)
	}
	hellos := 0
	for _, r := range f.requests() {
		if _, ok := r.(wire.Hello); ok {
			hellos++
		}
	}
	if hellos != 1 {
		t.Fatalf("%d hellos, want 1: the failed execve made the process new: %+v", hellos, f.requests())
	}
}

// TestLeftBehindProcessRunsNatively: a process the command left behind
// keeps working after Close (its calls run natively, as with the C layer
// after the session ends) instead of failing with ENOSYS.
func TestLeftBehindProcessRunsNatively(t *testing.T) {
	f := newFakeIntproxy(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result")
	cmd := exec.Command(self, "orphan="+result)
	cmd.Env = append(os.Environ(), envProbe+"=1")
	pend, err := Prepare(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		pend.Close()
		t.Fatal(err)
	}
	s, err := pend.Start(Config{Intproxy: f.path})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.Orphaned() {
		t.Fatal("Close saw no process left behind")
	}
	var got []byte
	deadline := time.Now().Add(15 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got, _ = os.ReadFile(result)
	}
	if want := "remote=open /remote/x: no such file or directory local=<nil>"; string(got) != want {
		t.Fatalf("the process left behind saw %q, want %q", got, want)
	}
}

// TestPathOpsAndUnixStreams: mkdir, rmdir, unlink and rename of remote
// paths are the intproxy's (EXDEV between a local and a remote path),
// local ones run natively; a unix stream connection the intproxy takes
// goes to its socket.
func TestPathOpsAndUnixStreams(t *testing.T) {
	f := newFakeIntproxy(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	out, _ := supervised(t, f, Config{},
		"mkdir=/remote/d", "rmdir=/remote/d", "unlink=/remote/f", "rename=/remote/a,/remote/b",
		"rename=/remote/a,"+local, "mkdir="+local, "rename="+local+","+local+"2", "rmdir="+local+"2",
		"unix=/remote/app.sock")
	want := strings.Join([]string{
		"mkdir <nil>", "rmdir <nil>", "unlink <nil>", "rename <nil>",
		"rename invalid cross-device link", "mkdir <nil>", "rename <nil>", "rmdir <nil>",
		"unix via intproxy unix",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("probe output:\n%s\nwant:\n%s", out, want)
	}
	var got []string
	for _, r := range f.requests() {
		if po, ok := r.(wire.PathOp); ok {
			got = append(got, fmt.Sprintf("%d %s %s", po.Kind, po.Path, po.NewPath))
		}
	}
	// the local mkdir/rename/rmdir (the temp dir is a local rule) were
	// never asked
	if len(got) != 5 {
		t.Fatalf("path operations asked: %q", got)
	}
	if _, err := os.Stat(local + "2"); !os.IsNotExist(err) {
		t.Fatalf("the local rmdir did not happen: %v", err)
	}
}

// TestAcceptReportsRealPeer: a connection the intproxy delivers to a
// subscribed listener is accepted with the peer the intproxy names, not
// its own loopback dial — by Go's non-blocking accept and by a blocking
// one (a C program's usual).
func TestAcceptReportsRealPeer(t *testing.T) {
	for _, op := range []string{"acceptone", "acceptblock"} {
		t.Run(op, func(t *testing.T) {
			f := newFakeIntproxy(t)
			f.listenPort = freePort(t)
			out, _ := supervised(t, f, Config{}, op+"=127.0.0.1:8080")
			if out != "accepted 203.0.113.9:5555\n" {
				t.Fatalf("probe output %q", out)
			}
		})
	}
}

// freePort is a loopback TCP port nothing listens on.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestConcurrentCalls: 16 goroutines of a Go program (several threads)
// making remote reads and connects at once each get their own answer.
func TestConcurrentCalls(t *testing.T) {
	f := newFakeIntproxy(t)
	out, _ := supervised(t, f, Config{}, "parallel=16")
	if out != "parallel ok\n" {
		t.Fatalf("probe output %q", out)
	}
}

// TestBlockingAcceptSignal: while the supervisor waits for a blocking
// accept's connection, a signal to the thread runs its handler (the
// accept restarts, SA_RESTART) instead of waiting for the connection.
func TestBlockingAcceptSignal(t *testing.T) {
	f := newFakeIntproxy(t)
	f.listenPort = freePort(t)
	gate := make(chan struct{})
	f.listenGate = gate
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	defer openGate() // the fake's dial waits for it
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "acceptsig=127.0.0.1:8080")
	cmd.Env = append(os.Environ(), envProbe+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pend, err := Prepare(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		pend.Close()
		t.Fatal(err)
	}
	s, err := pend.Start(Config{Intproxy: f.path})
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s.Close()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the probe ended early")
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("no output from the probe")
		}
		return ""
	}
	var tid int
	if _, err := fmt.Sscanf(next(), "tid %d", &tid); err != nil {
		t.Fatal(err)
	}
	// wait until the thread is in accept4 (288 on x86-64): after its
	// notification the call waits for the supervisor
	sysFile := fmt.Sprintf("/proc/%d/task/%d/syscall", cmd.Process.Pid, tid)
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(sysFile)
		if strings.HasPrefix(string(b), "288 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probe's thread never waited in accept: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := unix.Tgkill(cmd.Process.Pid, tid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lines:
		if l != "signal" {
			t.Fatalf("probe said %q before the connection", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the signal handler did not run while accept waited")
	}
	if st := s.Stats(); st.Notifications == 0 {
		t.Fatal("nothing was notified")
	}
	openGate()
	for {
		l := next()
		if l == "signal" || l == "EINTR" {
			continue
		}
		if l != "accepted 203.0.113.9:5555" {
			t.Fatalf("after the connection: %q", l)
		}
		break
	}
}
