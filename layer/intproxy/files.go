package intproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/fspolicy"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// fileTimeout bounds one remote file operation.
const fileTimeout = 30 * time.Second

// remoteFile is a read_write snapshot the app may modify; it is written
// back to the target when the app closes its last fd or exits.
type remoteFile struct {
	pid  uint32
	path string
	mode uint32
	f    *os.File   // the memfd (the app has its own description)
	mu   sync.Mutex // one upload at a time, in order
	// released: uploaded for the last time and closed (under mu)
	released bool
}

// open answers an open: local, an errno, or a memfd snapshot.
func (p *Proxy) open(ctx context.Context, proc *process, r wire.Open) (*wire.Builder, int) {
	acc := r.Flags & unix.O_ACCMODE
	write := acc != unix.O_RDONLY || r.Flags&(unix.O_CREAT|unix.O_TRUNC) != 0
	d := p.fs.Decide(r.Path, write, proc.paths)
	switch d {
	case fspolicy.Local:
		return localResponse(), -1
	case fspolicy.NotFound:
		return errnoResponse(syscall.ENOENT), -1
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	if r.Flags&unix.O_DIRECTORY != 0 {
		return p.openDir(ctx, r.Path, write)
	}

	content, exists, err := p.fetch(ctx, r.Path, r.Flags&unix.O_TRUNC != 0)
	if err != nil {
		e := errnoOf(err)
		if e == syscall.EISDIR {
			return p.openDir(ctx, r.Path, write)
		}
		if e != syscall.ENOENT || d != fspolicy.RemoteWrite || r.Flags&unix.O_CREAT == 0 {
			return errnoResponse(e), -1
		}
		exists = false
	}
	if exists && r.Flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		return errnoResponse(syscall.EEXIST), -1
	}
	fd, err := snapshot(r.Path, content, r.Flags&unix.O_APPEND != 0)
	if err != nil {
		p.log.Warn("memfd snapshot", "path", r.Path, "err", err)
		return errnoResponse(errnoOf(err)), -1
	}
	var token uint64
	if d == fspolicy.RemoteWrite && acc != unix.O_RDONLY {
		// The app gets a description of its own (closeWatcher); the
		// proxy keeps the memfd.
		appFlags := unix.O_RDWR | unix.O_CLOEXEC
		if r.Flags&unix.O_APPEND != 0 {
			appFlags |= unix.O_APPEND
		}
		app, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), appFlags, 0)
		if err != nil {
			closeFD(fd)
			return errnoResponse(errnoOf(err)), -1
		}
		mode := r.Mode & 0o7777
		if mode == 0 {
			mode = 0o644
		}
		p.mu.Lock()
		p.nextToken++
		token = p.nextToken
		p.files[token] = &remoteFile{pid: proc.pid, path: r.Path, mode: mode, f: os.NewFile(uintptr(fd), r.Path)}
		w := p.closes
		p.mu.Unlock()
		if w != nil {
			if err := w.watch(fd, token); err != nil {
				p.log.Warn("watch for the last close", "path", r.Path, "err", err)
			}
		}
		fd = app
		if !exists || r.Flags&unix.O_TRUNC != 0 {
			// make creation and truncation visible now, as a real open would
			if err := p.writeBack(token, false); err != nil {
				p.mu.Lock()
				rf := p.files[token]
				delete(p.files, token)
				p.mu.Unlock()
				rf.f.Close()
				closeFD(fd)
				return errnoResponse(errnoOf(err)), -1
			}
		}
	}
	return okResponse().U64(token), fd
}

// fetch reads the whole remote file (or only checks it exists when
// truncating).
func (p *Proxy) fetch(ctx context.Context, path string, truncate bool) ([]byte, bool, error) {
	if truncate {
		st, err := p.agent.Stat(ctx, path)
		if err != nil {
			return nil, false, err
		}
		if st.Mode&protocol.SIfmt == protocol.SIfdir {
			return nil, true, syscall.EISDIR
		}
		return nil, true, nil
	}
	data, st, err := p.agent.ReadFile(ctx, path, 0)
	if err != nil {
		return nil, false, err
	}
	if st != nil && st.Mode&protocol.SIfmt == protocol.SIfdir {
		return nil, true, syscall.EISDIR
	}
	if st != nil && st.Size > int64(len(data)) && st.Mode&protocol.SIfmt == protocol.SIfreg {
		// larger than one message: stream it
		f, err := p.agent.OpenFile(ctx, path, protocol.ORdonly, 0)
		if err != nil {
			return nil, true, err
		}
		defer f.Close()
		all, err := io.ReadAll(f)
		if err != nil {
			return nil, true, fmt.Errorf("read %s: %w", path, err)
		}
		return all, true, nil
	}
	return data, true, nil
}

// snapshot makes a memfd holding content, positioned at 0.
func snapshot(path string, content []byte, appendMode bool) (int, error) {
	fd, err := unix.MemfdCreate("mirrord:"+filepath.Base(path), unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	for off := 0; off < len(content); {
		n, err := unix.Pwrite(fd, content[off:], int64(off))
		if err != nil {
			closeFD(fd)
			return -1, fmt.Errorf("fill memfd: %w", err)
		}
		off += n
	}
	if appendMode {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, unix.O_APPEND); err != nil {
			closeFD(fd)
			return -1, fmt.Errorf("memfd O_APPEND: %w", err)
		}
	}
	return fd, nil
}

// closeFile writes back and forgets a read_write file.
func (p *Proxy) closeFile(ctx context.Context, token uint64) *wire.Builder {
	if err := p.writeBack(token, true); err != nil {
		p.log.Warn("write back", "err", err)
		return errnoResponse(errnoOf(err))
	}
	return okResponse()
}

// writeBack uploads the snapshot of token; release forgets it afterwards.
// Two releases of one file (the C layer's close_file and the close
// watcher) upload once: the second waits for the first's upload.
func (p *Proxy) writeBack(token uint64, release bool) error {
	p.mu.Lock()
	rf := p.files[token]
	p.mu.Unlock()
	if rf == nil {
		return nil
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.released {
		return nil
	}
	if release {
		defer func() {
			rf.released = true
			p.mu.Lock()
			if p.files[token] == rf {
				delete(p.files, token)
			}
			p.mu.Unlock()
			rf.f.Close()
		}()
	}
	st, err := rf.f.Stat()
	if err != nil {
		return fmt.Errorf("write back %s: %w", rf.path, err)
	}
	data := make([]byte, st.Size())
	if _, err := rf.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("write back %s: %w", rf.path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), fileTimeout)
	defer cancel()
	f, err := p.agent.OpenFile(ctx, rf.path, protocol.OWronly|protocol.OCreat|protocol.OTrunc, rf.mode)
	if err != nil {
		return fmt.Errorf("write back %s: %w", rf.path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write back %s: %w", rf.path, err)
	}
	return f.Close()
}

// processGone writes back the files and ends the subscriptions of an
// exited process.
func (p *Proxy) processGone(pid uint32) {
	p.mu.Lock()
	var tokens []uint64
	for t, rf := range p.files {
		if rf.pid == pid {
			tokens = append(tokens, t)
		}
	}
	var subs []*subscription
	for port, s := range p.subs {
		if s.pid == pid {
			subs = append(subs, s)
			delete(p.subs, port)
		}
	}
	p.mu.Unlock()
	for _, t := range tokens {
		if err := p.writeBack(t, true); err != nil {
			p.log.Warn("write back at exit", "err", err)
		}
	}
	for _, s := range subs {
		p.unsubscribed(s)
	}
}

func (p *Proxy) stat(ctx context.Context, proc *process, r wire.Stat) *wire.Builder {
	switch p.fs.Decide(r.Path, false, proc.paths) {
	case fspolicy.Local:
		return localResponse()
	case fspolicy.NotFound:
		return errnoResponse(syscall.ENOENT)
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	var st *protocol.Stat
	var err error
	if r.Follow {
		st, err = p.agent.Stat(ctx, r.Path)
	} else {
		st, err = p.agent.Lstat(ctx, r.Path)
	}
	if err != nil {
		return errnoResponse(errnoOf(err))
	}
	return okResponse().U64(st.Dev).U64(st.Ino).U32(st.Mode).U64(st.Nlink).U32(st.UID).U32(st.GID).
		U64(st.Rdev).I64(st.Size).I64(st.Blksize).I64(st.Blocks).I64(st.AtimeNs).I64(st.MtimeNs).I64(st.CtimeNs)
}

func (p *Proxy) access(ctx context.Context, proc *process, r wire.Access) *wire.Builder {
	switch p.fs.Decide(r.Path, r.Mode&unix.W_OK != 0, proc.paths) {
	case fspolicy.Local:
		return localResponse()
	case fspolicy.NotFound:
		return errnoResponse(syscall.ENOENT)
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	if err := p.agent.Access(ctx, r.Path); err != nil {
		return errnoResponse(errnoOf(err))
	}
	return okResponse()
}

func (p *Proxy) readLink(ctx context.Context, proc *process, r wire.ReadLink) *wire.Builder {
	switch p.fs.Decide(r.Path, false, proc.paths) {
	case fspolicy.Local:
		return localResponse()
	case fspolicy.NotFound:
		return errnoResponse(syscall.ENOENT)
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	target, err := p.agent.ReadLink(ctx, r.Path)
	if err != nil {
		return errnoResponse(errnoOf(err))
	}
	return okResponse().Str(target)
}

// openDir answers the open of a remote directory with a local directory
// holding an empty entry of the same name and type for each remote entry,
// so getdents/readdir work on the fd with no hooks. Snapshots live until
// the intproxy exits.
func (p *Proxy) openDir(ctx context.Context, path string, write bool) (*wire.Builder, int) {
	if write {
		return errnoResponse(syscall.EISDIR), -1
	}
	entries, err := p.agent.ReadDir(ctx, path)
	if err != nil {
		return errnoResponse(errnoOf(err)), -1
	}
	root, err := p.snapshotRoot()
	if err != nil {
		return errnoResponse(errnoOf(err)), -1
	}
	dir, err := os.MkdirTemp(root, "dir-")
	if err != nil {
		return errnoResponse(errnoOf(err)), -1
	}
	for _, e := range entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsRune(e.Name, '/') {
			continue
		}
		at := filepath.Join(dir, e.Name)
		switch e.Type {
		case unix.DT_DIR:
			err = os.Mkdir(at, 0o755)
		case unix.DT_LNK:
			err = os.Symlink(".", at)
		default:
			err = os.WriteFile(at, nil, 0o644)
		}
		if err != nil {
			p.log.Warn("directory snapshot", "path", path, "entry", e.Name, "err", err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoResponse(errnoOf(err)), -1
	}
	return okResponse().U64(0), fd
}

// snapshotRoot is the session's directory for directory snapshots.
func (p *Proxy) snapshotRoot() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snapDir == "" {
		d, err := os.MkdirTemp("", "mirrord-dirs-")
		if err != nil {
			return "", fmt.Errorf("snapshot directory: %w", err)
		}
		p.snapDir = d
	}
	return p.snapDir, nil
}

// pathOp runs mkdir, unlink, rmdir or rename in the target when the paths
// are writable there (read_write patterns, write mode).
func (p *Proxy) pathOp(ctx context.Context, proc *process, r wire.PathOp) *wire.Builder {
	d := p.fs.Decide(r.Path, true, proc.paths)
	if r.Kind == wire.PathRename {
		d2 := p.fs.Decide(r.NewPath, true, proc.paths)
		if (d == fspolicy.RemoteWrite) != (d2 == fspolicy.RemoteWrite) {
			return errnoResponse(syscall.EXDEV) // one side local, the other remote
		}
	}
	switch d {
	case fspolicy.Local, fspolicy.RemoteRead:
		return localResponse()
	case fspolicy.NotFound:
		return errnoResponse(syscall.ENOENT)
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	var err error
	switch r.Kind {
	case wire.PathMkdir:
		err = p.agent.Mkdir(ctx, r.Path, r.Mode&0o7777)
	case wire.PathUnlink:
		err = p.agent.Unlink(ctx, r.Path)
	case wire.PathRmdir:
		err = p.agent.Rmdir(ctx, r.Path)
	case wire.PathRename:
		err = p.agent.Rename(ctx, r.Path, r.NewPath)
	}
	if err != nil {
		return errnoResponse(errnoOf(err))
	}
	return okResponse()
}
