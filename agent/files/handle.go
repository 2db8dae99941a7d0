package files

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Handle is an open file of a client.
type Handle struct {
	f *os.File
}

// Open opens path with Linux open flags (only protocol.OpenFlagsAllowed).
func (r *Root) Open(p string, flags int, mode uint32) (*Handle, *protocol.Stat, error) {
	rel, err := Clean(p)
	if err != nil {
		return nil, nil, err
	}
	if flags&^protocol.OpenFlagsAllowed != 0 {
		return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "open %s: unsupported flags %#x", p, flags&^protocol.OpenFlagsAllowed)
	}
	fd, err := r.openat(rel, flags, mode)
	if err != nil {
		return nil, nil, ioError(p, err)
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return nil, nil, ioError(p, err)
	}
	return &Handle{f: os.NewFile(uintptr(fd), p)}, st, nil
}

// Close closes the file.
func (h *Handle) Close() error { return h.f.Close() }

// maxIO bounds one read.
const maxIO = 1 << 20

// Do runs one handle operation.
func (h *Handle) Do(req protocol.HandleRequest, data []byte) (*protocol.FileResponse, []byte, error) {
	fd := int(h.f.Fd())
	name := h.f.Name()
	switch req.Op {
	case protocol.OpRead, protocol.OpPread:
		size := req.Size
		if size < 0 || size > maxIO {
			size = maxIO
		}
		buf := make([]byte, size)
		var n int
		var err error
		for {
			if req.Op == protocol.OpRead {
				n, err = unix.Read(fd, buf)
			} else {
				n, err = unix.Pread(fd, buf, req.Offset)
			}
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{N: int64(n)}, buf[:n], nil
	case protocol.OpWrite, protocol.OpPwrite:
		var n int
		var err error
		if req.Op == protocol.OpWrite {
			n, err = unix.Write(fd, data)
		} else {
			n, err = unix.Pwrite(fd, data, req.Offset)
		}
		if err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{N: int64(n)}, nil, nil
	case protocol.OpSeek:
		off, err := unix.Seek(fd, req.Offset, req.Whence)
		if err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{Offset: off}, nil, nil
	case protocol.OpFstat:
		st, err := fstat(fd)
		if err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{Stat: st}, nil, nil
	case protocol.OpFtruncate:
		if err := unix.Ftruncate(fd, req.Size); err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{}, nil, nil
	case protocol.OpFsync:
		if err := unix.Fsync(fd); err != nil {
			return nil, nil, ioError(name, err)
		}
		return &protocol.FileResponse{}, nil, nil
	}
	return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "unknown handle operation %q", req.Op)
}
