package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()
