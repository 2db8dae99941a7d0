package supervisor

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16 // args[6], u64 each (little-endian: low half first)
)

// BPF opcodes (linux/filter.h).
const (
	bpfLdWAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K
	bpfJa     = unix.BPF_JMP | unix.BPF_JA
)

// buildFilter is the classic BPF program: for the native architecture,
// the syscalls in nrs go to the supervisor (SECCOMP_RET_USER_NOTIF), those
// in addrNrs only when their fifth argument (a sockaddr pointer: sendto's
// destination, recvfrom's source) is not NULL, all else is allowed. x32
// calls (the x32 bit set) and other architectures' calls (i386 int 0x80)
// are allowed untouched: documented as a gap.
func buildFilter(arch uint32, nrs, addrNrs []uint32) []unix.SockFilter {
	tests := len(nrs) + len(addrNrs)
	// layout: header (4), tests, ja allow, argument check (4), allow, notify
	const header, check = 4, 4
	allow := header + tests + 1 + check // index of the ALLOW
	notify := allow + 1
	argCheck := header + tests + 1
	jump := func(from, to int) uint8 { return uint8(to - from - 1) }
	prog := []unix.SockFilter{
		{Code: bpfLdWAbs, K: offArch},
		{Code: bpfJeqK, K: arch, Jt: 0, Jf: jump(1, allow)},
		{Code: bpfLdWAbs, K: offNr},
		{Code: bpfJgeK, K: 0x40000000, Jt: jump(3, allow), Jf: 0},
	}
	for _, nr := range nrs {
		prog = append(prog, unix.SockFilter{Code: bpfJeqK, K: nr, Jt: jump(len(prog), notify), Jf: 0})
	}
	for _, nr := range addrNrs {
		prog = append(prog, unix.SockFilter{Code: bpfJeqK, K: nr, Jt: jump(len(prog), argCheck), Jf: 0})
	}
	prog = append(prog, unix.SockFilter{Code: bpfJa, K: uint32(allow - len(prog) - 1)})
	// args[4]: both halves zero (NULL) → allow
	prog = append(prog,
		unix.SockFilter{Code: bpfLdWAbs, K: offArgs + 8*4},
		unix.SockFilter{Code: bpfJeqK, K: 0, Jt: 0, Jf: jump(argCheck+1, notify)},
		unix.SockFilter{Code: bpfLdWAbs, K: offArgs + 8*4 + 4},
		unix.SockFilter{Code: bpfJeqK, K: 0, Jt: jump(argCheck+3, allow), Jf: jump(argCheck+3, notify)},
	)
	return append(prog,
		unix.SockFilter{Code: bpfRetK, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: bpfRetK, K: unix.SECCOMP_RET_USER_NOTIF},
	)
}

// installFilter sets no_new_privs and installs prog on the calling thread,
// returning the notification listener. The caller must stay on this thread
// (runtime.LockOSThread) until it execve's.
func installFilter(prog []unix.SockFilter) (int, error) {
	if len(prog) > 255 {
		return -1, fmt.Errorf("seccomp filter of %d instructions: jumps do not reach", len(prog))
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// WAIT_KILLABLE_RECV (kernel 5.19+): once the supervisor has received
	// a call, only a fatal signal interrupts it. Otherwise a signal (Go's
	// runtime sends some) would restart a call the supervisor is already
	// carrying out, e.g. open a second remote connection.
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.EINVAL {
		fd, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
	}
	if errno != 0 {
		return -1, fmt.Errorf("seccomp(SET_MODE_FILTER, NEW_LISTENER): %w", errno)
	}
	return int(fd), nil
}
