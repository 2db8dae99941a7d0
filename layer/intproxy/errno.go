package intproxy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/wire"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

const errEINVAL = syscall.EINVAL

// errnoOf turns an agent or local error into the errno the app sees.
func errnoOf(err error) syscall.Errno {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Errno != 0 {
			return syscall.Errno(pe.Errno)
		}
		switch pe.Code {
		case protocol.CodeForbidden:
			return syscall.EACCES
		case protocol.CodeTimeout:
			return syscall.ETIMEDOUT
		case protocol.CodeUnsupported:
			return syscall.EOPNOTSUPP
		case protocol.CodeBadRequest:
			return syscall.EINVAL
		}
		return syscall.EIO
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.ETIMEDOUT
	}
	return syscall.EIO
}

func errnoResponse(e syscall.Errno) *wire.Builder {
	return wire.NewResponse(wire.StatusErrno).U32(uint32(e))
}

func localResponse() *wire.Builder { return wire.NewResponse(wire.StatusLocal) }

func okResponse() *wire.Builder { return wire.NewResponse(wire.StatusOK) }

func rightsFor(fd int) []byte { return unix.UnixRights(fd) }

func closeFD(fd int) { _ = unix.Close(fd) }
