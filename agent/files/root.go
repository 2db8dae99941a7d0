// Package files serves file operations confined to a target's root
// directory.
//
// Paths from the client are cleaned lexically first: a path whose ".."
// components climb above the root is refused (protocol.CodeForbidden). The
// rest is resolved by the kernel with openat2(RESOLVE_IN_ROOT) against a
// descriptor of the root, so symlinks (absolute or relative) are followed as
// if the root were "/" and can never lead outside it; magic links
// (/proc/self/fd/N style) are refused. Name-level operations (mkdir, unlink,
// rename, readlink, lstat) resolve the parent directory that way and then act
// on the final name relative to that directory's descriptor.
package files

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// Root is an open target root directory.
type Root struct {
	fd   int
	path string
}

// OpenRoot opens dir as the root all paths are confined to.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open target root %s: %w", dir, err)
	}
	return &Root{fd: fd, path: dir}, nil
}

// Close releases the root descriptor.
func (r *Root) Close() error { return unix.Close(r.fd) }

// ErrEscape is wrapped by errors for paths that climb out of the root.
var ErrEscape = errors.New("path escapes the target root")

// Clean turns a client path into a path relative to the root ("." for the
// root itself), refusing ".." that climbs above it.
func Clean(p string) (string, error) {
	if p == "" {
		return "", protocol.Errorf(protocol.CodeBadRequest, "empty path")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", protocol.Errorf(protocol.CodeBadRequest, "path contains a NUL byte")
	}
	depth := 0
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				e := protocol.ErrorFrom(protocol.CodeForbidden, fmt.Errorf("%s: %w", p, ErrEscape))
				e.Errno = int(unix.EACCES)
				return "", e
			}
		default:
			depth++
		}
	}
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	return rel, nil
}

// resolveFlags: follow symlinks inside the root, never through magic links.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

func (r *Root) openat(rel string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(mode & 0o7777)
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue // EAGAIN: a concurrent rename raced the lookup
		}
		return fd, err
	}
}

// parent resolves the directory holding rel's final name.
func (r *Root) parent(rel string) (int, string, error) {
	dir, base := path.Split(rel)
	if base == "." || base == ".." || base == "" {
		return -1, "", protocol.Errorf(protocol.CodeBadRequest, "%q names no directory entry", "/"+rel)
	}
	if dir == "" {
		dir = "."
	}
	fd, err := r.openat(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", ioError("/"+dir, err)
	}
	return fd, base, nil
}

func ioError(p string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return protocol.ErrorFrom(protocol.CodeIO, &os.PathError{Op: "", Path: p, Err: err})
}

// Parent resolves the directory holding p's final name inside the root and
// returns it (an O_PATH descriptor) with that name.
func (r *Root) Parent(p string) (*os.File, string, error) {
	rel, err := Clean(p)
	if err != nil {
		return nil, "", err
	}
	fd, base, err := r.parent(rel)
	if err != nil {
		return nil, "", err
	}
	return os.NewFile(uintptr(fd), p), base, nil
}
