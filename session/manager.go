package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
)

// Manager is the session side of mirrord-ls: start, list, stop, watch,
// and branch detection for mirrord/gitBranch. Sessions live in Dir, not in
// the Manager: restarting mirrord-ls stops nothing, and the CLI sees the
// same sessions.
type Manager struct {
	// Dir is the session directory; empty: registry.DefaultDir.
	Dir string
	// Mirrord and Layer default as in Request.
	Mirrord, Layer string
}

func (m *Manager) dir() (string, error) {
	if m.Dir != "" {
		return m.Dir, nil
	}
	return registry.DefaultDir(nil)
}

// Start starts a session (see Start); the Manager's Dir, Mirrord and Layer
// fill the request's empty fields.
func (m *Manager) Start(ctx context.Context, req Request) (*Launch, error) {
	if req.SessionsDir == "" {
		req.SessionsDir = m.Dir
	}
	if req.Mirrord == "" {
		req.Mirrord = m.Mirrord
	}
	if req.Layer == "" {
		req.Layer = m.Layer
	}
	return Start(ctx, req)
}

// List returns the live sessions, oldest first (stale entries removed).
func (m *Manager) List(ctx context.Context) ([]registry.Info, error) {
	dir, err := m.dir()
	if err != nil {
		return nil, err
	}
	return registry.List(ctx, dir)
}

// Stop ends session id and waits (up to 10 s) until it is gone: its
// intproxy then removes its agent from the cluster.
func (m *Manager) Stop(ctx context.Context, id string) error {
	dir, err := m.dir()
	if err != nil {
		return err
	}
	if err := registry.Kill(ctx, dir, id); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if _, err := registry.Get(wctx, dir, id); errors.Is(err, registry.ErrNotFound) {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("session %s did not end within 10s", id)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// GitBranch answers mirrord/gitBranch: the branch of folder, with
// MIRRORD_BRANCH_NAME from env (the launch environment) winning.
func GitBranch(ctx context.Context, folder string, env map[string]string) (branch.Info, error) {
	return branch.Detect(ctx, folder, branch.Options{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
}

// Watch calls changed whenever a session appears in or disappears from
// the session directory (for mirrord/sessionsChanged), until ctx ends. It
// uses inotify; several changes within 50 ms make one call.
func (m *Manager) Watch(ctx context.Context, changed func()) error {
	dir, err := m.dir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	events := make(chan struct{}, 1)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			if socketEvent(buf[:n]) {
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			<-readErr
			return ctx.Err()
		case err := <-readErr:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch %s: %w", dir, err)
		case <-events:
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			select {
			case <-events:
			default:
			}
			if ctx.Err() == nil {
				changed()
			}
		}
	}
}

// socketEvent reports whether a batch of inotify events names a *.sock.
func socketEvent(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		// struct inotify_event: wd, mask, cookie, len (u32 each), name.
		nameLen := binary.NativeEndian.Uint32(b[12:16])
		end := unix.SizeofInotifyEvent + int(nameLen)
		if end > len(b) {
			return false
		}
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		if strings.HasSuffix(name, ".sock") {
			return true
		}
		b = b[end:]
	}
	return false
}
