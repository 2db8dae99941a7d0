package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// envInit marks a re-executed mirrord binary as the supervisor's init:
// "FD:PATH", the socket to send the listener on and the program to run.
const envInit = "_MIRRORD_SUPERVISOR_INIT"

// MaybeInit must be the first thing main (or TestMain) does in a binary
// that Prepare re-executes. In such a process it installs the seccomp
// filter, hands the notification listener to the supervisor and execve's
// the program; in the helper Close starts for processes left behind it
// lets their calls run natively until they exit. It never returns then.
// Elsewhere it does nothing.
func MaybeInit() {
	maybeDrain()
	if target, ok := os.LookupEnv(envAttach); ok {
		err := runAttachExec(target)
		fmt.Fprintf(os.Stderr, "mirrord: cannot run %s: %v\n", target, err)
		os.Exit(127)
	}
	v, ok := os.LookupEnv(envInit)
	if !ok {
		return
	}
	err := runInit(v)
	fmt.Fprintf(os.Stderr, "mirrord: cannot start %s under the supervisor: %v\n", initPath(v), err)
	os.Exit(127)
}

func initPath(v string) string {
	_, p, _ := strings.Cut(v, ":")
	return p
}

func runInit(v string) error {
	fdStr, path, ok := strings.Cut(v, ":")
	sock, err := strconv.Atoi(fdStr)
	if !ok || err != nil || sock < 3 || path == "" {
		return fmt.Errorf("malformed %s=%q", envInit, v)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envInit+"=") {
			env = append(env, kv)
		}
	}
	// The filter is per thread: install it on the thread that execve's.
	runtime.LockOSThread()
	listener, err := installFilter(buildFilter(auditArch, notified, notifiedWithAddr))
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(sock, []byte{'L'}, unix.UnixRights(listener), nil, 0); err != nil {
		return fmt.Errorf("send the listener: %w", err)
	}
	_ = unix.Close(listener)
	_ = unix.Close(sock)
	return unix.Exec(path, os.Args, env)
}

// Pending is a command prepared to run under the supervisor, not started.
type Pending struct {
	parent, child *os.File
}

// Prepare rewrites cmd (not yet started) to run through the current
// executable's init (MaybeInit), which installs the filter before the
// program's first instruction. cmd.Path must be the program's absolute
// path; cmd.Args, Env, Dir and the standard files are kept.
func Prepare(cmd *exec.Cmd) (*Pending, error) {
	if !Supported {
		return nil, errors.New("the supervisor supports only linux/amd64")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	p := &Pending{parent: os.NewFile(uintptr(fds[0]), "supervisor"), child: os.NewFile(uintptr(fds[1]), "supervisor-init")}
	cmd.ExtraFiles = append(cmd.ExtraFiles, p.child)
	fd := 3 + len(cmd.ExtraFiles) - 1
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), envInit+"="+strconv.Itoa(fd)+":"+cmd.Path)
	cmd.Path = self
	return p, nil
}

// initTimeout bounds the wait for the init to send its listener.
const initTimeout = 30 * time.Second

// Start is called after cmd.Start: it receives the listener from the
// init and starts supervising. On error the command is not supervised
// (the init exits 127 when it could not send the listener).
func (p *Pending) Start(cfg Config) (*Supervisor, error) {
	p.child.Close()
	defer p.parent.Close()
	fd := int(p.parent.Fd())
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(initTimeout)
	for {
		n, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for the supervisor init: %w", err)
		}
		if n == 0 {
			return nil, errors.New("the supervisor init sent no listener in time")
		}
		break
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the listener: %w", err)
	}
	if n == 0 {
		return nil, errors.New("the supervisor init exited before sending its listener")
	}
	listener, err := oneFD(oob[:oobn])
	if err != nil {
		return nil, err
	}
	return New(listener, cfg)
}

// Close releases what Prepare made when the command did not start.
func (p *Pending) Close() {
	p.child.Close()
	p.parent.Close()
}

// oneFD extracts exactly one SCM_RIGHTS fd from a control message,
// closing any extra ones.
func oneFD(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, fmt.Errorf("control message: %w", err)
	}
	fd := -1
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, f := range fds {
			if fd < 0 {
				fd = f
			} else {
				_ = unix.Close(f)
			}
		}
	}
	if fd < 0 {
		return -1, errors.New("no file descriptor in the message")
	}
	return fd, nil
}
