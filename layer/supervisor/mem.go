package supervisor

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pathMax is PATH_MAX: the kernel refuses longer paths (ENAMETOOLONG).
const pathMax = 4096

var pageSize = uint64(unix.Getpagesize())

// readMem reads len(buf) bytes at addr of thread tid
// (process_vm_readv: one syscall, no fd), stopping at the first page that
// cannot be read; it returns how many bytes it read.
func readMem(tid uint32, addr uint64, buf []byte) (int, error) {
	got := 0
	for got < len(buf) {
		a := addr + uint64(got)
		n := min(uint64(len(buf)-got), pageSize-a%pageSize)
		local := []unix.Iovec{{Base: &buf[got], Len: n}}
		remote := []unix.RemoteIovec{{Base: uintptr(a), Len: int(n)}}
		r, err := unix.ProcessVMReadv(int(tid), local, remote, 0)
		if err != nil {
			if got > 0 && err == unix.EFAULT {
				return got, nil
			}
			return got, err
		}
		if r == 0 {
			break
		}
		got += r
	}
	return got, nil
}

var errNoNUL = errors.New("path longer than PATH_MAX")

// readPath reads the NUL-terminated path at addr, page by page.
func readPath(tid uint32, addr uint64) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	var buf [pathMax]byte
	got := 0
	for got < len(buf) {
		a := addr + uint64(got)
		n := int(min(uint64(len(buf)-got), pageSize-a%pageSize))
		r, err := readMem(tid, a, buf[got:got+n])
		if err != nil && r == 0 {
			return "", err
		}
		if s, ok := cString(buf[got : got+r]); ok {
			return string(buf[:got]) + string(s), nil
		}
		got += r
		if r < n {
			return "", unix.EFAULT
		}
	}
	return "", errNoNUL
}

// writeMem writes b at addr of thread tid.
func writeMem(tid uint32, addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	local := []unix.Iovec{{Base: (*byte)(unsafe.Pointer(&b[0])), Len: uint64(len(b))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	n, err := unix.ProcessVMWritev(int(tid), local, remote, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return unix.EFAULT
	}
	return nil
}
