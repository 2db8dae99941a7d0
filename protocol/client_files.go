package protocol

import (
	"context"
	"fmt"
	"io"
	"sync"
)

func (c *Client) fileCall(ctx context.Context, req FileRequest, maxData int) (*FileResponse, []byte, error) {
	resp, data, err := c.call(ctx, &Request{Kind: KindFile, File: &req}, maxData)
	if err != nil {
		return nil, nil, err
	}
	if resp.File == nil {
		resp.File = &FileResponse{}
	}
	return resp.File, data, nil
}

// ReadFile returns the whole file at path (at most max bytes; 0 means
// MaxDataSize) and its Stat, in one round trip: what a read-only open needs.
func (c *Client) ReadFile(ctx context.Context, path string, max int64) ([]byte, *Stat, error) {
	if max <= 0 || max > MaxDataSize {
		max = MaxDataSize
	}
	f, data, err := c.fileCall(ctx, FileRequest{Op: OpReadFile, Path: path, Size: max}, int(max))
	if err != nil {
		return nil, nil, err
	}
	return data, f.Stat, nil
}

// Stat stats path, following symlinks.
func (c *Client) Stat(ctx context.Context, path string) (*Stat, error) {
	return c.stat(ctx, OpStat, path)
}

// Lstat stats path without following a final symlink.
func (c *Client) Lstat(ctx context.Context, path string) (*Stat, error) {
	return c.stat(ctx, OpLstat, path)
}

func (c *Client) stat(ctx context.Context, op FileOp, path string) (*Stat, error) {
	f, _, err := c.fileCall(ctx, FileRequest{Op: op, Path: path}, 1)
	if err != nil {
		return nil, err
	}
	if f.Stat == nil {
		return nil, fmt.Errorf("%s %s: agent sent no stat", op, path)
	}
	return f.Stat, nil
}

// ReadDir lists the directory at path (without . and ..).
func (c *Client) ReadDir(ctx context.Context, path string) ([]DirEntry, error) {
	f, _, err := c.fileCall(ctx, FileRequest{Op: OpReadDir, Path: path}, 1)
	if err != nil {
		return nil, err
	}
	return f.Entries, nil
}

// ReadLink returns the target of the symlink at path.
func (c *Client) ReadLink(ctx context.Context, path string) (string, error) {
	f, _, err := c.fileCall(ctx, FileRequest{Op: OpReadLink, Path: path}, 1)
	if err != nil {
		return "", err
	}
	return f.Target, nil
}

// Mkdir creates a directory.
func (c *Client) Mkdir(ctx context.Context, path string, mode uint32) error {
	_, _, err := c.fileCall(ctx, FileRequest{Op: OpMkdir, Path: path, Mode: mode}, 1)
	return err
}

// Unlink removes a file or symlink.
func (c *Client) Unlink(ctx context.Context, path string) error {
	_, _, err := c.fileCall(ctx, FileRequest{Op: OpUnlink, Path: path}, 1)
	return err
}

// Rmdir removes an empty directory.
func (c *Client) Rmdir(ctx context.Context, path string) error {
	_, _, err := c.fileCall(ctx, FileRequest{Op: OpRmdir, Path: path}, 1)
	return err
}

// Rename renames oldPath to newPath.
func (c *Client) Rename(ctx context.Context, oldPath, newPath string) error {
	_, _, err := c.fileCall(ctx, FileRequest{Op: OpRename, Path: oldPath, NewPath: newPath}, 1)
	return err
}

// Access reports nil when path exists (following symlinks).
func (c *Client) Access(ctx context.Context, path string) error {
	_, _, err := c.fileCall(ctx, FileRequest{Op: OpAccess, Path: path}, 1)
	return err
}

// OpenFile opens path with Linux open flags (O* constants) and mode. The
// returned File holds a stream; Close it.
func (c *Client) OpenFile(ctx context.Context, path string, flags int, mode uint32) (*File, error) {
	st, resp, _, err := c.roundTrip(ctx, &Request{Kind: KindOpen, File: &FileRequest{Op: OpOpen, Path: path, Flags: flags, Mode: mode}}, 1, nil)
	if err != nil {
		return nil, err
	}
	f := &File{st: st, path: path}
	if resp.File != nil {
		f.stat = resp.File.Stat
	}
	return f, nil
}

// File is an open remote file. Its methods are safe for concurrent use
// (requests are serialised on the file's stream).
type File struct {
	mu   sync.Mutex
	st   *Stream
	path string
	stat *Stat
}

// OpenStat is the file's Stat at open time.
func (f *File) OpenStat() *Stat { return f.stat }

func (f *File) do(req HandleRequest, data []byte, maxData int) (*FileResponse, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp, out, err := exchange(f.st, req, data, nil, maxData)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", req.Op, f.path, err)
	}
	if resp.Error != nil {
		return nil, nil, resp.Error
	}
	if resp.File == nil {
		resp.File = &FileResponse{}
	}
	return resp.File, out, nil
}

// maxIO bounds one read or write request.
const maxIO = 1 << 20

// Read reads at the file offset; it returns io.EOF at the end.
func (f *File) Read(p []byte) (int, error) {
	n := min(len(p), maxIO)
	_, data, err := f.do(HandleRequest{Op: OpRead, Size: int64(n)}, nil, n)
	if err != nil {
		return 0, err
	}
	if len(data) == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return copy(p, data), nil
}

// ReadAt reads at off (pread).
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n := min(len(p)-total, maxIO)
		_, data, err := f.do(HandleRequest{Op: OpPread, Size: int64(n), Offset: off + int64(total)}, nil, n)
		if err != nil {
			return total, err
		}
		if len(data) == 0 {
			return total, io.EOF
		}
		total += copy(p[total:], data)
	}
	return total, nil
}

// Write writes at the file offset.
func (f *File) Write(p []byte) (int, error) {
	return f.write(p, OpWrite, 0)
}

// WriteAt writes at off (pwrite).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, OpPwrite, off)
}

func (f *File) write(p []byte, op FileOp, off int64) (int, error) {
	total := 0
	for total < len(p) {
		chunk := p[total:min(len(p), total+maxIO)]
		r, _, err := f.do(HandleRequest{Op: op, Offset: off + int64(total)}, chunk, 1)
		if err != nil {
			return total, err
		}
		total += int(r.N)
		if r.N < int64(len(chunk)) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Seek sets the file offset (whence: io.SeekStart, io.SeekCurrent, io.SeekEnd).
func (f *File) Seek(offset int64, whence int) (int64, error) {
	r, _, err := f.do(HandleRequest{Op: OpSeek, Offset: offset, Whence: whence}, nil, 1)
	if err != nil {
		return 0, err
	}
	return r.Offset, nil
}

// Stat returns the open file's current Stat (fstat).
func (f *File) Stat() (*Stat, error) {
	r, _, err := f.do(HandleRequest{Op: OpFstat}, nil, 1)
	if err != nil {
		return nil, err
	}
	return r.Stat, nil
}

// Truncate changes the file's size.
func (f *File) Truncate(size int64) error {
	_, _, err := f.do(HandleRequest{Op: OpFtruncate, Size: size}, nil, 1)
	return err
}

// Sync flushes the file to storage.
func (f *File) Sync() error {
	_, _, err := f.do(HandleRequest{Op: OpFsync}, nil, 1)
	return err
}

// Close closes the file.
func (f *File) Close() error { return f.st.Close() }
