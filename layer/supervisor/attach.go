package supervisor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Attaching: a program that was not started by `mirrord exec` — an
// editor's launch, with the launch environment (LD_PRELOAD and the
// MIRRORD_* variables) — reaches the supervisor by installing the filter
// on itself and handing the listener to the attach server in the
// intproxy. The C layer does it in two places: its constructor, in a
// dynamically linked Go program; and its exec hooks, which run a static
// or Go program through the exec wrapper (this package's MaybeInit in the
// mirrord binary: it attaches itself and execve's the program, so the
// program keeps its process id, parent and argv).
//
// The protocol (unix stream socket, little-endian):
//
//	client: "MSA1"                                   before any filter
//	server: 0, u16 N, N × struct sock_filter         or 1, u16 len, message
//	client: u32 listener fd number                   or 0xFFFFFFFF: no filter
//	server: 0 (supervising: the client closes its copy)
//
// The server identifies the client by SO_PEERCRED and takes the listener
// with pidfd_getfd, which checks that it may (same user, ptrace access),
// before it sends the filter, so an attach that could not be finished
// installs nothing. Writes, reads and close are not notified, so the
// client finishes the exchange under its new filter.
const (
	// EnvAttachAddr is the attach server's socket.
	EnvAttachAddr = "MIRRORD_SUPERVISOR_ADDR"
	// EnvExecWrapper is the exec wrapper: the mirrord binary.
	EnvExecWrapper = "MIRRORD_SUPERVISOR_EXEC"
	// EnvSupervised marks a process tree that runs under a supervisor's
	// filter: the C layer stays inert in it.
	EnvSupervised = "MIRRORD_LAYER_SUPERVISED"
	// EnvLayerMode is the layer mode (Mode) the C layer follows.
	EnvLayerMode = "MIRRORD_LAYER_MODE"
	// envAttach makes the mirrord binary the exec wrapper: attach, then
	// execve the program at this path with the same argv.
	envAttach = "_MIRRORD_SUPERVISOR_ATTACH"

	attachMagic   = "MSA1"
	attachNoFD    = 0xFFFFFFFF
	attachTimeout = 10 * time.Second
)

// AttachServer takes the listeners of programs that attach themselves and
// supervises each.
type AttachServer struct {
	cfg  Config
	ln   *net.UnixListener
	path string

	mu     sync.Mutex
	sups   map[*Supervisor]bool
	closed bool
	wg     sync.WaitGroup
}

// ServeAttach listens on path (a unix socket only its user may use) and
// supervises every program that attaches, with cfg.
func ServeAttach(path string, cfg Config) (*AttachServer, error) {
	if !Supported {
		return nil, errors.New("the supervisor supports only linux/amd64")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	old := unix.Umask(0o077)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	a := &AttachServer{cfg: cfg, ln: ln, path: path, sups: map[*Supervisor]bool{}}
	a.wg.Add(1)
	go a.serve()
	return a, nil
}

// Close stops taking programs and closes every supervisor (programs still
// running go on natively, see Supervisor.Close).
func (a *AttachServer) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	err := a.ln.Close()
	a.mu.Lock()
	sups := make([]*Supervisor, 0, len(a.sups))
	for s := range a.sups {
		sups = append(sups, s)
	}
	a.mu.Unlock()
	for _, s := range sups {
		if cerr := s.Close(); cerr != nil {
			a.cfg.Log.Warn("close a supervisor", "err", cerr)
		}
	}
	a.wg.Wait()
	return err
}

// Supervising is how many attached programs are supervised now.
func (a *AttachServer) Supervising() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sups)
}

func (a *AttachServer) serve() {
	defer a.wg.Done()
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			return
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer c.Close()
			if err := a.handle(c); err != nil {
				a.cfg.Log.Warn("attach", "err", err)
			}
		}()
	}
}

// handle runs the server's side of one attach.
func (a *AttachServer) handle(c *net.UnixConn) error {
	_ = c.SetDeadline(time.Now().Add(attachTimeout))
	var magic [4]byte
	if _, err := io.ReadFull(c, magic[:]); err != nil || string(magic[:]) != attachMagic {
		return errors.New("not an attach request")
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return refuse(c, "cannot identify the program")
	}
	if uid := uint32(os.Getuid()); cred.Uid != uid && uid != 0 {
		return refuse(c, "the program runs as another user")
	}
	pidfd, err := unix.PidfdOpen(int(cred.Pid), 0)
	if err != nil {
		return refuse(c, fmt.Sprintf("pidfd_open(%d): %v", cred.Pid, err))
	}
	defer unix.Close(pidfd)
	// The check pidfd_getfd makes comes before it looks at the fd
	// number: EBADF means "allowed, no fd 0".
	if fd, err := unix.PidfdGetfd(pidfd, 0, 0); err == nil {
		_ = unix.Close(fd)
	} else if err != unix.EBADF {
		return refuse(c, fmt.Sprintf("the supervisor may not trace process %d: %v", cred.Pid, err))
	}
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return refuse(c, "the session is ending")
	}
	if _, err := c.Write(filterMessage(buildFilter(auditArch, notified, notifiedWithAddr))); err != nil {
		return err
	}
	var nb [4]byte
	if _, err := io.ReadFull(c, nb[:]); err != nil {
		return fmt.Errorf("process %d sent no listener: %w", cred.Pid, err)
	}
	n := binary.LittleEndian.Uint32(nb[:])
	if n == attachNoFD {
		return fmt.Errorf("process %d could not install the filter", cred.Pid)
	}
	listener, err := unix.PidfdGetfd(pidfd, int(int32(n)), 0)
	if err != nil {
		return fmt.Errorf("take the listener of process %d: %w", cred.Pid, err)
	}
	if !isListener(listener) {
		_ = unix.Close(listener)
		return fmt.Errorf("process %d sent fd %d, not a seccomp listener", cred.Pid, n)
	}
	s, err := New(listener, a.cfg)
	if err != nil {
		return err
	}
	a.mu.Lock()
	closed = a.closed
	if !closed {
		a.sups[s] = true
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			<-s.Done()
			a.mu.Lock()
			delete(a.sups, s)
			a.mu.Unlock()
		}()
	}
	a.mu.Unlock()
	if closed {
		_ = s.Close() // Close came in between: the program goes on natively
	}
	if _, err := c.Write([]byte{0}); err != nil {
		return fmt.Errorf("process %d: %w", cred.Pid, err)
	}
	a.cfg.Log.Info("supervising an attached program", "pid", cred.Pid)
	return nil
}

// filterMessage is the server's "ok" answer carrying prog.
func filterMessage(prog []unix.SockFilter) []byte {
	msg := make([]byte, 0, 3+8*len(prog))
	msg = append(msg, 0)
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(prog)))
	for _, ins := range prog {
		msg = binary.LittleEndian.AppendUint16(msg, ins.Code)
		msg = append(msg, ins.Jt, ins.Jf)
		msg = binary.LittleEndian.AppendUint32(msg, ins.K)
	}
	return msg
}

func refuse(c net.Conn, why string) error {
	if len(why) > 1024 {
		why = why[:1024]
	}
	msg := []byte{1}
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(why)))
	_, _ = c.Write(append(msg, why...))
	return errors.New(why)
}

// isListener reports whether fd is a seccomp notification listener.
func isListener(fd int) bool {
	l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return err == nil && l == "anon_inode:seccomp notify"
}

// attachSelf is the client: it installs the server's filter on the
// calling thread (locked by the caller) and hands the listener over. An
// error before the filter is installed leaves the thread as it was; after
// (the server went away), the listener goes to the drain helper, so the
// thread's calls run natively instead of waiting forever.
func attachSelf(addr string) error {
	if addr == "" {
		return errors.New(EnvAttachAddr + " is not set")
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sock)
	tv := unix.NsecToTimeval(int64(attachTimeout))
	_ = unix.SetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: addr}); err != nil {
		return fmt.Errorf("connect to the supervisor at %s: %w", addr, err)
	}
	if err := writeAll(sock, []byte(attachMagic)); err != nil {
		return err
	}
	var head [3]byte
	if err := readAll(sock, head[:]); err != nil {
		return fmt.Errorf("the supervisor did not answer: %w", err)
	}
	n := int(binary.LittleEndian.Uint16(head[1:]))
	if head[0] != 0 {
		why := make([]byte, min(n, 1024))
		_ = readAll(sock, why)
		return fmt.Errorf("the supervisor refused: %s", why)
	}
	if n == 0 || n > 255 {
		return fmt.Errorf("the supervisor sent a filter of %d instructions", n)
	}
	raw := make([]byte, 8*n)
	if err := readAll(sock, raw); err != nil {
		return fmt.Errorf("read the filter: %w", err)
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		b := raw[8*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	listener, err := installFilter(prog)
	if err != nil {
		_ = writeAll(sock, binary.LittleEndian.AppendUint32(nil, attachNoFD))
		return err
	}
	defer unix.Close(listener)
	var ack [1]byte
	err = writeAll(sock, binary.LittleEndian.AppendUint32(nil, uint32(listener)))
	if err == nil {
		err = readAll(sock, ack[:])
	}
	if err == nil && ack[0] != 0 {
		err = errors.New("the supervisor did not take the listener")
	}
	if err != nil {
		// Start the helper from another thread: a child of this one
		// would inherit the filter and wait forever in its execve.
		herr := make(chan error, 1)
		go func() {
			_, e := handoff(listener)
			herr <- e
		}()
		if e := <-herr; e != nil {
			err = fmt.Errorf("%w; %v", err, e)
		}
		return fmt.Errorf("the filter is installed but unsupervised (calls run natively): %w", err)
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func readAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		b = b[n:]
	}
	return nil
}

// runAttachExec is the exec wrapper: attach this thread, then execve the
// program at target with this process's argv and environment (without
// envAttach; with EnvSupervised when attached).
func runAttachExec(target string) error {
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envAttach+"=") && !strings.HasPrefix(kv, EnvSupervised+"=") {
			env = append(env, kv)
		}
	}
	runtime.LockOSThread()
	if err := attachSelf(os.Getenv(EnvAttachAddr)); err != nil {
		fmt.Fprintf(os.Stderr, "mirrord: %s runs without mirrord: %v\n", target, err)
	} else {
		env = append(env, EnvSupervised+"=1")
	}
	return unix.Exec(target, os.Args, env)
}
