package agent

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// watchProcess calls exited once process pid has exited (pidfd), unless ctx
// ends first.
func watchProcess(ctx context.Context, pid int, exited func()) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("watch target process %d: %w", pid, err)
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			n, err := unix.Poll(fds, 500)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n > 0 {
				if n > 0 {
					exited()
				}
				return
			}
		}
	}()
	return nil
}
