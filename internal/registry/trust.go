package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The registry trusts only the user running it. A session socket lets its
// client read what the session does and stop it, and a socket's /info is
// shown to the user as their session, so:
//
//   - the session directory must belong to the user and not be writable by
//     group or others (else another user could plant a fake session or
//     replace a real one's socket): CheckDir;
//   - a session serves only connections whose peer (SO_PEERCRED) is the
//     same user (or root, who can reach any process anyway): peerListener;
//   - a client talks only to a socket file the user owns, served by a
//     process of the user: dialSession.

// ErrUnsafeDir: the session directory could be written by someone else.
var ErrUnsafeDir = errors.New("unsafe session directory")

// CheckDir checks that dir is a directory owned by the current user and
// not writable by group or others. A missing directory is fs.ErrNotExist.
func CheckDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		// Follow it, but judge the directory it names.
		if st, err = os.Stat(dir); err != nil {
			return fmt.Errorf("session directory: %w", err)
		}
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: cannot read the owner of %s", ErrUnsafeDir, dir)
	}
	me := os.Geteuid()
	if int(sys.Uid) != me {
		return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d); set %s to a directory of your own", ErrUnsafeDir, dir, sys.Uid, me, EnvDir)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, writable by group or others (other users could plant or replace sessions); run chmod go-w %s, or use a directory of your own", ErrUnsafeDir, dir, modeBits(st.Mode()), dir)
	}
	return checkParents(dir, me)
}

// checkParents checks every directory above dir (symbolic links resolved):
// each must belong to the user or root, and a directory others may write
// must be sticky (as /tmp is), else another user could rename dir away and
// put one of their own in its place.
func checkParents(dir string, me int) error {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	for p := filepath.Dir(real); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("session directory: a parent: %w", err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%w: cannot read the owner of %s", ErrUnsafeDir, p)
		}
		if int(sys.Uid) != me && sys.Uid != 0 {
			return fmt.Errorf("%w: %s, a parent of %s, is owned by uid %d (neither you nor root), who could replace the session directory; set %s to a directory of your own", ErrUnsafeDir, p, dir, sys.Uid, EnvDir)
		}
		if st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("%w: %s, a parent of %s, has mode %04o: others may write it without the sticky bit, so they could replace the session directory; run chmod go-w (or +t) %s, or set %s to a directory of your own", ErrUnsafeDir, p, dir, modeBits(st.Mode()), p, EnvDir)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// modeBits is the permission bits with setuid/setgid/sticky, as chmod
// shows them (1777 for /tmp).
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	return b
}

// peerUID is the uid of the process at the other end of a Unix socket.
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("not a unix socket connection: %T", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return -1, fmt.Errorf("peer credentials: %w", credErr)
	}
	return int(cred.Uid), nil
}

// trustedUID: the current user, or root.
func trustedUID(uid int) bool { return uid == os.Geteuid() || uid == 0 }

// peerListener drops every connection whose peer is another user.
type peerListener struct {
	net.Listener
	// refused, when set, is told about each refused connection.
	refused func(uid int, err error)
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && trustedUID(uid) {
			return c, nil
		}
		if l.refused != nil {
			l.refused(uid, err)
		}
		c.Close()
	}
}

// dialSession connects to the session socket at path after checking that
// the file is a socket the current user owns, then checks that the process
// serving it runs as the user (or root).
func dialSession(ctx context.Context, path string) (net.Conn, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: err}
	}
	if st.Mode()&fs.ModeSocket == 0 {
		return nil, fmt.Errorf("%s is not a socket", path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() {
		owner := -1
		if ok {
			owner = int(sys.Uid)
		}
		return nil, fmt.Errorf("%w: %s is owned by uid %d, not by you", ErrForeignSession, path, owner)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	uid, err := peerUID(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	if !trustedUID(uid) {
		c.Close()
		return nil, fmt.Errorf("%w: %s is served by uid %d, not by you", ErrForeignSession, path, uid)
	}
	return c, nil
}

// ErrForeignSession: a session socket that belongs to another user.
var ErrForeignSession = errors.New("session of another user")
