package supervisor

import "golang.org/x/sys/unix"

// auditArch is AUDIT_ARCH_X86_64.
const auditArch = 0xc000003e

// Supported reports whether this build can supervise programs.
const Supported = true

// Syscalls the supervisor decides on.
const (
	sysOpen        = unix.SYS_OPEN
	sysOpenat      = unix.SYS_OPENAT
	sysOpenat2     = unix.SYS_OPENAT2
	sysStat        = unix.SYS_STAT
	sysLstat       = unix.SYS_LSTAT
	sysNewfstatat  = unix.SYS_NEWFSTATAT
	sysStatx       = unix.SYS_STATX
	sysAccess      = unix.SYS_ACCESS
	sysFaccessat   = unix.SYS_FACCESSAT
	sysFaccessat2  = unix.SYS_FACCESSAT2
	sysReadlink    = unix.SYS_READLINK
	sysReadlinkat  = unix.SYS_READLINKAT
	sysConnect     = unix.SYS_CONNECT
	sysBind        = unix.SYS_BIND
	sysListen      = unix.SYS_LISTEN
	sysExecve      = unix.SYS_EXECVE
	sysExecveat    = unix.SYS_EXECVEAT
	sysGetpeername = unix.SYS_GETPEERNAME
	sysGetsockname = unix.SYS_GETSOCKNAME
	sysSendto      = unix.SYS_SENDTO
	sysRecvfrom    = unix.SYS_RECVFROM
	sysMkdir       = unix.SYS_MKDIR
	sysMkdirat     = unix.SYS_MKDIRAT
	sysUnlink      = unix.SYS_UNLINK
	sysUnlinkat    = unix.SYS_UNLINKAT
	sysRmdir       = unix.SYS_RMDIR
	sysRename      = unix.SYS_RENAME
	sysRenameat    = unix.SYS_RENAMEAT
	sysRenameat2   = unix.SYS_RENAMEAT2
	sysAccept      = unix.SYS_ACCEPT
	sysAccept4     = unix.SYS_ACCEPT4
)

// notifiedWithAddr are notified only with an address (sendto's
// destination, recvfrom's source): unconnected UDP, e.g. musl's resolver.
var notifiedWithAddr = []uint32{sysSendto, sysRecvfrom}

var notified = []uint32{
	sysOpenat, sysNewfstatat, sysConnect, sysOpen, sysStat, sysLstat, sysStatx,
	sysAccess, sysFaccessat, sysFaccessat2, sysReadlink, sysReadlinkat, sysOpenat2,
	sysBind, sysListen, sysExecve, sysExecveat, sysGetpeername, sysGetsockname,
	sysMkdir, sysMkdirat, sysUnlink, sysUnlinkat, sysRmdir, sysRename, sysRenameat, sysRenameat2,
	sysAccept, sysAccept4,
}
