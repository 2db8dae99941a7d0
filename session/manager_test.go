package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
)

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "msm") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Watch reports sessions appearing and disappearing; List and Stop work on
// the same directory.
func TestManagerWatchListStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := &Manager{Dir: shortDir(t)}
	changes := make(chan struct{}, 16)
	watchDone := make(chan error, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	go func() { watchDone <- m.Watch(wctx, func() { changes <- struct{}{} }) }()

	// Keep registering until the watch has seen one (it may start late).
	var host *registry.Host
	deadline := time.After(10 * time.Second)
	for host == nil {
		h, err := registry.Listen(ctx, m.Dir, registry.Info{ID: "w-1", Target: "pod/a", StartedAt: time.Now(), PID: os.Getpid()})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-changes:
			host = h
		case <-time.After(200 * time.Millisecond):
			h.Close()
			select {
			case <-changes: // the removal
			default:
			}
		case <-deadline:
			t.Fatal("no change reported")
		}
	}
	infos, err := m.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].ID != "w-1" {
		t.Fatalf("list %+v %v", infos, err)
	}
	go func() {
		<-host.Killed()
		host.Close()
	}()
	if err := m.Stop(ctx, "w-1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
	case <-time.After(10 * time.Second):
		t.Fatal("removal not reported")
	}
	if err := m.Stop(ctx, "w-1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("stop of a gone session: %v", err)
	}
	stopWatch()
	if err := <-watchDone; !errors.Is(err, context.Canceled) {
		t.Errorf("watch ended with %v", err)
	}
}

func TestGitBranch(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "PROJ-3-branch"},
		{"-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	info, err := GitBranch(context.Background(), dir, nil)
	if err != nil || info.Branch != "PROJ-3-branch" || info.Source != branch.SourceGit {
		t.Errorf("branch %+v %v", info, err)
	}
	info, err = GitBranch(context.Background(), dir, map[string]string{"MIRRORD_BRANCH_NAME": "from-env"})
	if err != nil || info.Branch != "from-env" || info.Source != branch.SourceEnv {
		t.Errorf("env branch %+v %v", info, err)
	}
}

func inotifyRecord(name string, pad int) []byte {
	b := make([]byte, unix.SizeofInotifyEvent+len(name)+pad)
	binary.NativeEndian.PutUint32(b[12:16], uint32(len(name)+pad))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestSocketEvent(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{inotifyRecord("a.sock", 2), true},
		{append(inotifyRecord("x.tmp", 3), inotifyRecord("b.sock", 0)...), true},
		{inotifyRecord("notes.txt", 0), false},
		{inotifyRecord("a.sock", 0)[:20], false}, // truncated
		{nil, false},
	} {
		if got := socketEvent(tc.b); got != tc.want {
			t.Errorf("%q: %v", tc.b, got)
		}
	}
}

func FuzzSocketEvent(f *testing.F) {
	f.Add(inotifyRecord("a.sock", 2))
	f.Add(append(inotifyRecord("x", 0), 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) { socketEvent(b) })
}

func TestErrorCauses(t *testing.T) {
	inner := errors.New("connection refused")
	e := fail("cannot connect", "help", wrapf("dial 1.2.3.4: %w", inner))
	if c := e.Causes(); len(c) != 2 || c[0] != "dial 1.2.3.4" || c[1] != "connection refused" {
		t.Errorf("causes %q", c)
	}
	if e.Error() != "cannot connect: dial 1.2.3.4: connection refused" || !errors.Is(e, inner) {
		t.Errorf("error %q", e.Error())
	}
}

func wrapf(format string, err error) error { return fmt.Errorf(format, err) }
