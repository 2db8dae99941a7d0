package registry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherUID and otherGID are the second local user of the tests, created
// for the run by TestMain (withSecondUser) when the tests run as root.
var otherUID, otherGID = -1, -1

// runAsHelper runs the helper modes of the test binary (started as another
// user by the tests below) and reports whether it did.
func runAsHelper() bool {
	switch {
	case os.Getenv("REGISTRY_TEST_DIAL") != "":
		// Connect to a session socket and ask for /info.
		c, err := net.Dial("unix", os.Getenv("REGISTRY_TEST_DIAL"))
		if err != nil {
			fmt.Println("dial failed:", err)
			os.Exit(0)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /info HTTP/1.0\r\nHost: session\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if strings.HasPrefix(line, "HTTP/") {
			fmt.Println("answered:", strings.TrimSpace(line))
		} else {
			fmt.Println("refused:", err)
		}
		os.Exit(0)
	case os.Getenv("REGISTRY_TEST_SERVE") != "":
		// Serve a fake session.
		l, err := net.Listen("unix", os.Getenv("REGISTRY_TEST_SERVE"))
		if err != nil {
			fmt.Println("listen failed:", err)
			os.Exit(3)
		}
		fmt.Println("ready")
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(Info{ID: "fake", Target: "pod/evil", PID: os.Getpid()})
		}))
		os.Exit(0)
	}
	return false
}

// asOtherUser starts this test binary as the other user, in a helper mode,
// and returns its stdout. Skips when the tests cannot switch users.
func asOtherUser(t *testing.T, ctx context.Context, env ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as a second user")
	}
	// The test binary lives in a directory only we can read: copy it.
	dir, err := os.MkdirTemp("/tmp", "mregbin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "registry.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/tmp"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(otherUID), Gid: uint32(otherGID)}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

// TestUnsafeDirRefused: a session directory that other users can write to,
// or that another user owns, is refused by every entry point with an error
// naming the directory and its mode.
func TestUnsafeDirRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		mode os.FileMode
		want string // in the error; "" for a safe mode
	}{
		{0o700, ""}, {0o750, ""}, {0o711, ""}, {0o755, ""},
		{0o777, "mode 0777"}, {0o777 | os.ModeSticky, "mode 1777"}, {0o770, "mode 0770"}, {0o702, "mode 0702"},
	} {
		t.Run(fmt.Sprintf("%04o", modeBits(tc.mode)), func(t *testing.T) {
			dir := shortDir(t)
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckDir(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckDir: %v, want an unsafe-dir error naming %s and %s", err, dir, tc.want)
			}
			if _, err := List(ctx, dir); !errors.Is(err, ErrUnsafeDir) {
				t.Errorf("List: %v", err)
			}
			if _, err := Listen(ctx, dir, Info{ID: "s"}); !errors.Is(err, ErrUnsafeDir) {
				t.Errorf("Listen: %v", err)
			}
			if err := Kill(ctx, dir, "s"); !errors.Is(err, ErrUnsafeDir) {
				t.Errorf("Kill: %v", err)
			}
			if _, err := Get(ctx, dir, "s"); !errors.Is(err, ErrUnsafeDir) {
				t.Errorf("Get: %v", err)
			}
		})
	}
	if os.Geteuid() == 0 {
		dir := shortDir(t)
		if err := os.Chown(dir, otherUID, otherGID); err != nil {
			t.Fatal(err)
		}
		if err := CheckDir(dir); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), fmt.Sprintf("owned by uid %d", otherUID)) {
			t.Errorf("a directory of another user: %v", err)
		}
	}
}

// TestUnsafeParentRefused: a safe session directory inside a directory that
// others may write (without the sticky bit) or that another user owns can
// be replaced by them: refused, naming the parent. A sticky parent (/tmp)
// is fine.
func TestUnsafeParentRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		other bool // the parent belongs to the second user
		want  string
	}{
		{"private", 0o700, false, ""},
		{"sticky and world-writable", 0o777 | os.ModeSticky, false, ""},
		{"world-writable", 0o777, false, "mode 0777"},
		{"group-writable", 0o770, false, "mode 0770"},
		{"another user's", 0o755, true, fmt.Sprintf("owned by uid %d", otherUID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := shortDir(t)
			dir := filepath.Join(parent, "sessions")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.other {
				if otherUID < 0 {
					t.Skip("needs root: the second user is created as root")
				}
				if err := os.Chown(parent, otherUID, otherGID); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(parent, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckDir(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), parent+", a parent of") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckDir: %v, want an unsafe-dir error naming the parent %s and %s", err, parent, tc.want)
			}
		})
	}
}

// TestPeerOfAnotherUserRefused: a session serves no connection from
// another user, even when the socket's mode would let them connect.
func TestPeerOfAnotherUserRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o711); err != nil { // others may traverse, not list or write
		t.Fatal(err)
	}
	h, err := Listen(ctx, dir, Info{ID: "mine", Target: "pod/a"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	path := SocketPath(dir, "mine")
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, out := asOtherUser(t, ctx, "REGISTRY_TEST_DIAL="+path)
	line, _ := out.ReadString('\n')
	if !strings.HasPrefix(line, "refused") {
		t.Fatalf("the other user's connection: %q, want refused", line)
	}
	if info, err := Get(ctx, dir, "mine"); err != nil || info.Target != "pod/a" {
		t.Fatalf("our own connection: %+v %v", info, err)
	}
	select {
	case <-h.Killed():
		t.Fatal("killed")
	default:
	}
}

// TestSessionOfAnotherUserIgnored: a socket in our directory that belongs
// to another user, or is served by another user's process, is neither
// listed nor stopped nor removed.
func TestSessionOfAnotherUserIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := shortDir(t)
	live, err := Listen(ctx, dir, Info{ID: "mine", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	// A socket file owned by the other user (as a shared directory would
	// hold): not contacted at all.
	l, err := net.Listen("unix", SocketPath(dir, "owned"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(Info{ID: "owned"})
		}))
	}()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	if err := os.Chown(SocketPath(dir, "owned"), otherUID, otherGID); err != nil {
		t.Fatal(err)
	}

	// A socket file we own, served by the other user's process.
	theirs, err := os.MkdirTemp("/tmp", "mregx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(theirs) })
	if err := os.Chmod(theirs, 0o777); err != nil {
		t.Fatal(err)
	}
	served := filepath.Join(theirs, "s.sock")
	_, out := asOtherUser(t, ctx, "REGISTRY_TEST_SERVE="+served)
	if line, _ := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper: %q", line)
	}
	if err := os.Chown(served, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(served, SocketPath(dir, "served")); err != nil {
		t.Fatal(err)
	}

	list, err := List(ctx, dir)
	if err != nil || len(list) != 1 || list[0].ID != "mine" {
		t.Fatalf("list: %+v %v, want only our session", list, err)
	}
	for _, id := range []string{"owned", "served"} {
		if _, err := Get(ctx, dir, id); !errors.Is(err, ErrForeignSession) {
			t.Errorf("Get %s: %v, want a foreign-session error", id, err)
		}
		if err := Kill(ctx, dir, id); !errors.Is(err, ErrForeignSession) {
			t.Errorf("Kill %s: %v", id, err)
		}
		if _, err := os.Lstat(SocketPath(dir, id)); err != nil {
			t.Errorf("%s removed: %v", id, err)
		}
	}
}

// TestSilentSocketsListFast: 20 sockets nobody answers on (a listener that
// never accepts) cost one probe deadline in all, not one each.
func TestSilentSocketsListFast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := shortDir(t)
	for i := range 20 {
		l, err := net.Listen("unix", SocketPath(dir, fmt.Sprintf("silent-%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	h, err := Listen(ctx, dir, Info{ID: "live", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t0 := time.Now()
	list, err := List(ctx, dir)
	took := time.Since(t0)
	t.Logf("listing 20 silent sockets and one session took %v", took)
	if err != nil || len(list) != 1 || list[0].ID != "live" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if took > 3*time.Second {
		t.Errorf("listing took %v, want < 3s", took)
	}
	// Silent is not stale: the sockets stay.
	if entries, _ := os.ReadDir(dir); len(entries) != 21 {
		t.Errorf("%d sockets left, want 21", len(entries))
	}
}
