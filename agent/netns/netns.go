// Package netns runs code inside another network namespace.
//
// Go schedules goroutines on any OS thread, and setns(2) changes only the
// calling thread. So Run starts a goroutine, locks it to a fresh OS thread,
// switches that thread into the namespace, runs the function and then exits
// the goroutine while still locked, which makes the runtime discard the
// thread instead of reusing it. The agent's main thread never switches.
// Sockets created inside Run belong to the namespace for their whole life,
// whichever thread later reads or writes them; processes started inside Run
// inherit the namespace.
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

// Namespace is a network namespace, identified by a path such as
// /proc/PID/ns/net or /run/netns/NAME. The zero value (empty path) means the
// agent's own namespace: Run then calls the function directly.
type Namespace struct {
	path string
}

// Open checks that path is a network namespace and returns it. An empty
// path gives the agent's own namespace.
func Open(path string) (Namespace, error) {
	if path == "" {
		return Namespace{}, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Namespace{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return Namespace{}, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		return Namespace{}, fmt.Errorf("%s is not a namespace file", path)
	}
	return Namespace{path: path}, nil
}

// Path is the namespace's path ("" for the agent's own).
func (n Namespace) Path() string { return n.path }

// Run calls fn on an OS thread that is inside the namespace and returns its
// error.
func (n Namespace) Run(fn func() error) error {
	if n.path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread is in a foreign namespace and must
		// die with this goroutine.
		fd, err := unix.Open(n.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open network namespace %s: %w", n.path, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", n.path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// DialContext dials network/address from inside the namespace.
func (n Namespace) DialContext(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
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

// Same reports whether the namespace is the calling process's own network
// namespace (compared by inode).
func (n Namespace) Same() (bool, error) {
	if n.path == "" {
		return true, nil
	}
	a, err := os.Stat(n.path)
	if err != nil {
		return false, err
	}
	b, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// connectTimeout is exported for callers that want the agent default.
const ConnectTimeout = 5 * time.Second
