package intproxy

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// closeWatcher writes a read_write snapshot back when the app closes the
// last fd of its open file description — whoever holds it: the C layer
// also says so (OpClose), the seccomp supervisor cannot see a close.
//
// The app gets its own open file description of the memfd, opened again
// through /proc/self/fd (a memfd itself is created without fsnotify
// events); the proxy keeps the memfd. When the app's description is
// released, the kernel reports IN_CLOSE_WRITE on the inode, and the
// snapshot — still held through the memfd — is written back.
type closeWatcher struct {
	f    *os.File // the inotify instance (non-blocking: read through the poller)
	mu   sync.Mutex
	byWD map[int32]uint64 // watch -> token
}

func newCloseWatcher() (*closeWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &closeWatcher{f: os.NewFile(uintptr(fd), "inotify"), byWD: map[int32]uint64{}}, nil
}

// watch reports the close of the app's description of memfd as token.
func (w *closeWatcher) watch(memfd int, token uint64) error {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	var wd int
	var werr error
	if err := rc.Control(func(fd uintptr) {
		wd, werr = unix.InotifyAddWatch(int(fd), "/proc/self/fd/"+strconv.Itoa(memfd), unix.IN_CLOSE_WRITE)
	}); err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	w.mu.Lock()
	w.byWD[int32(wd)] = token
	w.mu.Unlock()
	return nil
}

// run calls closed for every token whose description was closed, until
// ctx ends; then it closes the inotify instance.
func (w *closeWatcher) run(ctx context.Context, closed func(token uint64)) {
	stop := context.AfterFunc(ctx, func() { w.f.Close() })
	defer stop()
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.f.Close()
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
			w.mu.Lock()
			token, ok := w.byWD[wd]
			if mask&unix.IN_IGNORED != 0 || mask&unix.IN_CLOSE_WRITE != 0 {
				delete(w.byWD, wd) // one close per description; the inode may go
			}
			w.mu.Unlock()
			if ok && mask&unix.IN_CLOSE_WRITE != 0 {
				closed(token)
			}
		}
	}
}
