package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// envDrain marks a re-executed binary as the helper that answers the
// notifications of processes left behind: "FD", the listener.
const envDrain = "_MIRRORD_SUPERVISOR_DRAIN"

// handoff passes the listener to a detached helper when some task still
// uses the filter; it reports whether it did.
func handoff(listener int) (bool, error) {
	if listenerHup(listener) {
		return false, nil
	}
	self, err := os.Executable()
	if err != nil {
		return true, fmt.Errorf("processes left behind get ENOSYS: %w", err)
	}
	dup, err := unix.FcntlInt(uintptr(listener), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("processes left behind get ENOSYS: %w", err)
	}
	f := os.NewFile(uintptr(dup), "seccomp-listener")
	defer f.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envDrain+"=3")
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return true, fmt.Errorf("processes left behind get ENOSYS: %w", err)
	}
	_ = cmd.Process.Release()
	return true, nil
}

// drain answers every notification of listener with "continue natively"
// until no task uses the filter.
func drain(listener int) {
	pfd := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
	for {
		pfd[0].Revents = 0
		if _, err := unix.Poll(pfd, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&unix.POLLHUP != 0 {
				return // the last supervised process exited
			}
			continue // POLLERR: a signal interrupted the check
		}
		var n notif
		if err := ioctlPtr(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
			if err == unix.EINTR || err == unix.ENOENT {
				continue
			}
			return
		}
		r := notifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		_ = ioctlPtr(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
	}
}

func maybeDrain() {
	v, ok := os.LookupEnv(envDrain)
	if !ok {
		return
	}
	fd, err := strconv.Atoi(v)
	if err == nil && fd >= 3 {
		drain(fd)
	}
	os.Exit(0)
}
