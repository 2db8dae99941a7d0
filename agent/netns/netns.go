// Package netns runs code inside another network namespace.
//
// Go schedules goroutines on any OS thread, and setns(2) changes only the
// calling thread. So Run locks the calling goroutine to its thread, switches
// that thread into the namespace, runs the function and switches back before
// unlocking. If switching back fails the goroutine ends still locked, and the
// runtime discards the thread instead of reusing it. (Threads are not simply
// thrown away after every call: a child started with Pdeathsig would be killed
// when the thread that forked it dies.) The agent's main thread never
// switches. Sockets created inside Run belong to the namespace for their whole
// life, whichever thread later reads or writes them; processes started inside
// Run inherit the namespace.
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Namespace is an open network namespace. The zero value means the
// process's own namespace: Run then calls the function directly.
type Namespace struct {
	f    *os.File
	path string
}

// Open opens the network namespace at path (/proc/PID/ns/net,
// /run/netns/NAME). The namespace stays usable after the process that
// created it exits, until Close. An empty path gives the own namespace.
func Open(path string) (Namespace, error) {
	if path == "" {
		return Namespace{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Namespace{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		f.Close()
		return Namespace{}, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		f.Close()
		return Namespace{}, fmt.Errorf("%s is not a namespace file", path)
	}
	return Namespace{f: f, path: path}, nil
}

// Close releases the namespace.
func (n Namespace) Close() error {
	if n.f == nil {
		return nil
	}
	return n.f.Close()
}

// Fd opens a file descriptor of the namespace (for APIs that take one, such
// as attaching an eBPF program to it); the caller closes it. For the own
// namespace it is /proc/self/ns/net.
func (n Namespace) Fd() (*os.File, error) {
	if n.f == nil {
		return os.Open("/proc/self/ns/net")
	}
	fd, err := unix.FcntlInt(n.f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate network namespace %s: %w", n.path, err)
	}
	return os.NewFile(uintptr(fd), n.path), nil
}

// Run calls fn on an OS thread that is inside the namespace and returns its
// error. fn runs on its own goroutine, so a thread that cannot switch back
// is discarded with that goroutine and never reused.
func (n Namespace) Run(fn func() error) error {
	if n.f == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", n.path, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- fmt.Errorf("leave network namespace %s: %w", n.path, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// DialContext dials network/address from inside the namespace. A nil d
// means a zero net.Dialer.
func (n Namespace) DialContext(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	var conn net.Conn
	err := n.Run(func() error {
		var err error
		conn, err = d.DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

// Listen listens on network/address inside the namespace.
func (n Namespace) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var ln net.Listener
	err := n.Run(func() error {
		var err error
		var lc net.ListenConfig
		ln, err = lc.Listen(ctx, network, address)
		return err
	})
	return ln, err
}

// ConnectTimeout is the agent's timeout for outgoing connects.
const ConnectTimeout = 5 * time.Second
