package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestMain lets the test binary act as a session process (for the crash test).
func TestMain(m *testing.M) {
	if runAsHelper() {
		return
	}
	if dir := os.Getenv("REGISTRY_TEST_HOST_DIR"); dir != "" {
		h, err := Listen(context.Background(), dir, Info{ID: os.Getenv("REGISTRY_TEST_HOST_ID"), PID: os.Getpid(), StartedAt: time.Now()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Println("ready")
		<-h.Killed()
		os.Exit(0)
	}
	os.Exit(withSecondUser(m.Run))
}

// withSecondUser creates the second local user of the trust tests (as
// root; otherwise those tests skip), runs the tests and removes the user,
// also when they fail.
func withSecondUser(run func() int) int {
	if os.Geteuid() != 0 {
		return run()
	}
	name := fmt.Sprintf("mrgtest%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group",
		"--shell", "/usr/sbin/nologin", "--comment", "mirrord-ls registry test", name).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "useradd %s: %v\n%s", name, err, out)
		return 1
	}
	defer func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "userdel %s: %v\n%s", name, err, out)
		}
	}()
	u, err := user.Lookup(name)
	if err == nil {
		otherUID, err = strconv.Atoi(u.Uid)
	}
	if err == nil {
		otherGID, err = strconv.Atoi(u.Gid)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "the user %s just created: %v\n", name, err)
		return 1
	}
	return run()
}

func shortDir(t *testing.T) string {
	// Unix socket paths are limited to ~108 bytes: keep the dir short.
	d, err := os.MkdirTemp("/tmp", "mreg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestHostInfoKillEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := shortDir(t)
	start := time.Now().Truncate(time.Second)
	h, err := Listen(ctx, dir, Info{ID: "s-1", Target: "deployment/api", Namespace: "default", StartedAt: start, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	if _, err := Listen(ctx, dir, Info{ID: "s-1"}); err == nil {
		t.Fatal("a second live session with the same id must be refused")
	}
	st, err := os.Stat(SocketPath(dir, "s-1"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}

	events := make(chan Event, 8)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- Watch(ctx, dir, "s-1", func(e Event) bool { events <- e; return true })
	}()
	// Publish until the watcher is subscribed (no sleeps: wait for delivery).
	proc := Process{PID: 42, ParentPID: 1, Name: "python3", Cmdline: []string{"python3", "app.py"}}
	h.Update(func(i *Info) {
		i.Processes = append(i.Processes, proc)
		i.PortSubscriptions = append(i.PortSubscriptions, PortSubscription{Port: 8080, Mode: "steal"})
	})
	var got Event
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case got = <-events:
			break wait
		case <-tick.C:
			h.Publish(Event{Type: "process_started", Process: &proc})
		case <-ctx.Done():
			t.Fatal("no event delivered")
		}
	}
	if got.Type != "process_started" || got.Process == nil || got.Process.PID != 42 {
		t.Fatalf("event %+v", got)
	}

	info, err := Get(ctx, dir, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Target != "deployment/api" || len(info.Processes) != 1 || info.Processes[0].Name != "python3" ||
		len(info.PortSubscriptions) != 1 || info.PortSubscriptions[0].Port != 8080 || !info.StartedAt.Equal(start) {
		t.Fatalf("info %+v", info)
	}
	list, err := List(ctx, dir)
	if err != nil || len(list) != 1 || list[0].ID != "s-1" {
		t.Fatalf("list %+v %v", list, err)
	}

	if err := Kill(ctx, dir, "s-1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Killed():
	case <-ctx.Done():
		t.Fatal("kill not delivered")
	}
	h.Close()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("watch: %v", err)
	}
	if _, err := os.Stat(SocketPath(dir, "s-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if err := Kill(ctx, dir, "s-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("kill of a gone session: %v", err)
	}
}

// A session process killed with SIGKILL leaves its socket; listing must
// notice nobody answers and remove it.
func TestStaleSocketOfCrashedSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := shortDir(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REGISTRY_TEST_HOST_DIR="+dir, "REGISTRY_TEST_HOST_ID=crashy")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:5]) != "ready" {
		t.Fatalf("child did not start: %q %v", buf, err)
	}
	list, err := List(ctx, dir)
	if err != nil || len(list) != 1 || list[0].PID != cmd.Process.Pid {
		t.Fatalf("live child not listed: %+v %v", list, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := os.Stat(SocketPath(dir, "crashy")); err != nil {
		t.Fatalf("expected the crashed session's socket to remain: %v", err)
	}
	list, err = List(ctx, dir)
	if err != nil || len(list) != 0 {
		t.Fatalf("stale session listed: %+v %v", list, err)
	}
	if _, err := os.Stat(SocketPath(dir, "crashy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale socket not removed: %v", err)
	}
	// The id is free again.
	h, err := Listen(ctx, dir, Info{ID: "crashy"})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
}

func TestIDsAndDirs(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", ".hidden", string(make([]byte, 65))} {
		if CheckID(id) == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	if err := CheckID("5b0e-AB_c.1"); err != nil {
		t.Error(err)
	}
	d, err := DefaultDir(func(k string) (string, bool) { return "/x/y", k == EnvDir })
	if err != nil || d != "/x/y" {
		t.Errorf("env dir: %q %v", d, err)
	}
	d, err = DefaultDir(func(string) (string, bool) { return "", false })
	if err != nil || filepath.Base(d) != "sessions" || filepath.Base(filepath.Dir(d)) != ".mirrord" {
		t.Errorf("default dir %q %v", d, err)
	}
	list, err := List(context.Background(), filepath.Join(t.TempDir(), "missing"))
	if err != nil || list != nil {
		t.Errorf("missing dir: %v %v", list, err)
	}
}
