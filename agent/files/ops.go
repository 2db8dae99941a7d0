package files

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// maxDirEntries bounds one readdir answer.
const maxDirEntries = 100_000

// Do runs a path operation and returns its result and data.
func (r *Root) Do(req protocol.FileRequest) (*protocol.FileResponse, []byte, error) {
	rel, err := Clean(req.Path)
	if err != nil {
		return nil, nil, err
	}
	switch req.Op {
	case protocol.OpReadFile:
		return r.readFile(rel, req.Size)
	case protocol.OpStat, protocol.OpLstat, protocol.OpAccess:
		flags := unix.O_PATH
		if req.Op == protocol.OpLstat {
			flags |= unix.O_NOFOLLOW
		}
		fd, err := r.openat(rel, flags, 0)
		if err != nil {
			return nil, nil, ioError(req.Path, err)
		}
		defer unix.Close(fd)
		if req.Op == protocol.OpAccess {
			return &protocol.FileResponse{}, nil, nil
		}
		st, err := fstat(fd)
		if err != nil {
			return nil, nil, ioError(req.Path, err)
		}
		return &protocol.FileResponse{Stat: st}, nil, nil
	case protocol.OpReadDir:
		entries, err := r.readDir(rel)
		if err != nil {
			return nil, nil, ioError(req.Path, err)
		}
		return &protocol.FileResponse{Entries: entries}, nil, nil
	case protocol.OpReadLink, protocol.OpMkdir, protocol.OpUnlink, protocol.OpRmdir:
		pfd, base, err := r.parent(rel)
		if err != nil {
			return nil, nil, err
		}
		defer unix.Close(pfd)
		resp := &protocol.FileResponse{}
		switch req.Op {
		case protocol.OpReadLink:
			buf := make([]byte, unix.PathMax)
			n, e := unix.Readlinkat(pfd, base, buf)
			err = e
			if e == nil {
				resp.Target = string(buf[:n])
			}
		case protocol.OpMkdir:
			mode := req.Mode & 0o7777
			if mode == 0 {
				mode = 0o755
			}
			err = unix.Mkdirat(pfd, base, mode)
		case protocol.OpUnlink:
			err = unix.Unlinkat(pfd, base, 0)
		case protocol.OpRmdir:
			err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
		}
		if err != nil {
			return nil, nil, ioError(req.Path, err)
		}
		return resp, nil, nil
	case protocol.OpRename:
		newRel, err := Clean(req.NewPath)
		if err != nil {
			return nil, nil, err
		}
		ofd, obase, err := r.parent(rel)
		if err != nil {
			return nil, nil, err
		}
		defer unix.Close(ofd)
		nfd, nbase, err := r.parent(newRel)
		if err != nil {
			return nil, nil, err
		}
		defer unix.Close(nfd)
		if err := unix.Renameat(ofd, obase, nfd, nbase); err != nil {
			return nil, nil, ioError(req.Path, err)
		}
		return &protocol.FileResponse{}, nil, nil
	}
	return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "unknown file operation %q", req.Op)
}

func (r *Root) readFile(rel string, limit int64) (*protocol.FileResponse, []byte, error) {
	if limit <= 0 || limit > protocol.MaxDataSize {
		limit = protocol.MaxDataSize
	}
	fd, err := r.openat(rel, unix.O_RDONLY, 0)
	if err != nil {
		return nil, nil, ioError("/"+rel, err)
	}
	f := os.NewFile(uintptr(fd), "/"+rel)
	defer f.Close()
	st, err := fstat(fd)
	if err != nil {
		return nil, nil, ioError("/"+rel, err)
	}
	if st.Mode&protocol.SIfmt == protocol.SIfdir {
		return nil, nil, ioError("/"+rel, unix.EISDIR)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, ioError("/"+rel, err)
	}
	if int64(len(data)) > limit {
		e := protocol.Errorf(protocol.CodeIO, "/%s: larger than %d bytes; open it instead", rel, limit)
		e.Errno = int(unix.EFBIG)
		return nil, nil, e
	}
	return &protocol.FileResponse{Stat: st}, data, nil
}

func (r *Root) readDir(rel string) ([]protocol.DirEntry, error) {
	fd, err := r.openat(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []protocol.DirEntry
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		entries, err := ParseDirents(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Name != "." && e.Name != ".." {
				out = append(out, e)
			}
		}
		if len(out) > maxDirEntries {
			return nil, fmt.Errorf("more than %d entries: %w", maxDirEntries, unix.E2BIG)
		}
	}
}

// ParseDirents decodes linux_dirent64 records.
func ParseDirents(b []byte) ([]protocol.DirEntry, error) {
	var out []protocol.DirEntry
	for off := 0; off < len(b); {
		if len(b)-off < 19 {
			return nil, fmt.Errorf("dirent at offset %d: truncated header", off)
		}
		reclen := int(binary.NativeEndian.Uint16(b[off+16:]))
		if reclen < 19 || off+reclen > len(b) {
			return nil, fmt.Errorf("dirent at offset %d: bad record length %d", off, reclen)
		}
		rec := b[off : off+reclen]
		name := rec[19:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, protocol.DirEntry{
			Ino:  binary.NativeEndian.Uint64(rec[0:]),
			Type: rec[18],
			Name: string(name),
		})
		off += reclen
	}
	return out, nil
}

func fstat(fd int) (*protocol.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	return StatFrom(&st), nil
}

// StatFrom converts a unix.Stat_t.
func StatFrom(st *unix.Stat_t) *protocol.Stat {
	return &protocol.Stat{
		Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Nlink: uint64(st.Nlink),
		UID: st.Uid, GID: st.Gid, Rdev: st.Rdev, Size: st.Size,
		Blksize: int64(st.Blksize), Blocks: st.Blocks,
		AtimeNs: st.Atim.Nano(), MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
	}
}
