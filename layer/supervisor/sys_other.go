//go:build !amd64

package supervisor

// Supported reports whether this build can supervise programs: only
// x86-64 for now (the syscall table and struct stat are per architecture).
const Supported = false

const auditArch = 0

const (
	sysOpen = -1 - iota
	sysOpenat
	sysOpenat2
	sysStat
	sysLstat
	sysNewfstatat
	sysStatx
	sysAccess
	sysFaccessat
	sysFaccessat2
	sysReadlink
	sysReadlinkat
	sysConnect
	sysBind
	sysListen
	sysExecve
	sysExecveat
	sysGetpeername
	sysGetsockname
	sysSendto
	sysRecvfrom
	sysMkdir
	sysMkdirat
	sysUnlink
	sysUnlinkat
	sysRmdir
	sysRename
	sysRenameat
	sysRenameat2
	sysAccept
	sysAccept4
)

var notified, notifiedWithAddr []uint32
