package supervisor

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notif is struct seccomp_notif (80 bytes on every architecture).
type notif struct {
	ID    uint64
	PID   uint32 // thread id, in the supervisor's pid namespace
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifAddFD is struct seccomp_notif_addfd.
type notifAddFD struct {
	ID         uint64
	Flags      uint32
	SrcFD      uint32
	NewFD      uint32
	NewFDFlags uint32
}

const notifSize = int(unsafe.Sizeof(notif{}))

// decodeNotif parses the kernel's seccomp_notif bytes (little-endian
// architectures only, as is every one this package supports).
func decodeNotif(b []byte) (notif, bool) {
	if len(b) < notifSize {
		return notif{}, false
	}
	n := notif{
		ID:    binary.LittleEndian.Uint64(b[0:]),
		PID:   binary.LittleEndian.Uint32(b[8:]),
		Flags: binary.LittleEndian.Uint32(b[12:]),
		Nr:    int32(binary.LittleEndian.Uint32(b[16:])),
		Arch:  binary.LittleEndian.Uint32(b[20:]),
		IP:    binary.LittleEndian.Uint64(b[24:]),
	}
	for i := range n.Args {
		n.Args[i] = binary.LittleEndian.Uint64(b[32+8*i:])
	}
	return n, true
}

// sockAddr is what a connect or bind names: an inet address, or another
// family the supervisor leaves to the kernel.
type sockAddr struct {
	Family uint16
	Addr   netip.AddrPort // valid for AF_INET and AF_INET6
}

// maxSockaddr bounds the address a connect or bind may pass
// (sizeof(struct sockaddr_storage)).
const maxSockaddr = 128

// parseSockaddr decodes a struct sockaddr of the given length as the
// kernel would: the family from the first two bytes, then for AF_INET at
// least 16 bytes and for AF_INET6 at least 24 (SIN6_LEN_RFC2133). ok is
// false when the kernel would reject the address (EINVAL), so the
// supervisor lets the kernel say so.
func parseSockaddr(b []byte) (sockAddr, bool) {
	if len(b) < 2 || len(b) > maxSockaddr {
		return sockAddr{}, false
	}
	fam := binary.LittleEndian.Uint16(b)
	sa := sockAddr{Family: fam}
	switch fam {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return sa, false
		}
		port := binary.BigEndian.Uint16(b[2:])
		sa.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case unix.AF_INET6:
		if len(b) < 24 {
			return sa, false
		}
		port := binary.BigEndian.Uint16(b[2:])
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		if len(b) >= unix.SizeofSockaddrInet6 {
			if zone := binary.LittleEndian.Uint32(b[24:]); zone != 0 && ip.Is6() && !ip.Is4In6() {
				// a scope id matters only for link-local addresses, which
				// are never the target's: the supervisor leaves them alone
				sa.Family = 0
				return sa, true
			}
		}
		sa.Addr = netip.AddrPortFrom(ip, port)
	}
	return sa, true
}

// encodeSockaddr builds a struct sockaddr of family fam for a; an IPv4
// address in an AF_INET6 socket is v4-mapped.
func encodeSockaddr(fam int, a netip.AddrPort) unix.Sockaddr {
	ip := a.Addr()
	if fam == unix.AF_INET6 {
		return &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
	}
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.Unmap().As4()}
}

// addrOfSockaddr is the inverse of encodeSockaddr for getsockname results.
func addrOfSockaddr(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(s.Addr), uint16(s.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(s.Addr), uint16(s.Port)), true
	}
	return netip.AddrPort{}, false
}

// cString returns the bytes of b up to its first NUL and whether there was
// one.
func cString(b []byte) ([]byte, bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], true
		}
	}
	return b, false
}

// remoteStat is the body of an OK answer to wire.OpStat.
type remoteStat struct {
	Dev, Ino            uint64
	Mode                uint32
	Nlink               uint64
	UID, GID            uint32
	Rdev                uint64
	Size, Blksize       int64
	Blocks              int64
	Atime, Mtime, Ctime int64 // nanoseconds since the epoch
}

const remoteStatSize = 8 + 8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 8

func decodeStat(b []byte) (remoteStat, bool) {
	if len(b) != remoteStatSize {
		return remoteStat{}, false
	}
	le := binary.LittleEndian
	var s remoteStat
	s.Dev, s.Ino, s.Mode = le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint32(b[16:])
	s.Nlink, s.UID, s.GID = le.Uint64(b[20:]), le.Uint32(b[28:]), le.Uint32(b[32:])
	s.Rdev, s.Size, s.Blksize = le.Uint64(b[36:]), int64(le.Uint64(b[44:])), int64(le.Uint64(b[52:]))
	s.Blocks, s.Atime = int64(le.Uint64(b[60:])), int64(le.Uint64(b[68:]))
	s.Mtime, s.Ctime = int64(le.Uint64(b[76:])), int64(le.Uint64(b[84:]))
	return s, true
}

func splitNs(ns int64) (sec, nsec int64) {
	sec, nsec = ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return sec, nsec
}

// kernelStat is the x86-64 struct stat (stat, lstat, newfstatat): 144 bytes.
func kernelStat(s remoteStat) []byte {
	b := make([]byte, 144)
	le := binary.LittleEndian
	le.PutUint64(b[0:], s.Dev)
	le.PutUint64(b[8:], s.Ino)
	le.PutUint64(b[16:], s.Nlink)
	le.PutUint32(b[24:], s.Mode)
	le.PutUint32(b[28:], s.UID)
	le.PutUint32(b[32:], s.GID)
	le.PutUint64(b[40:], s.Rdev)
	le.PutUint64(b[48:], uint64(s.Size))
	le.PutUint64(b[56:], uint64(s.Blksize))
	le.PutUint64(b[64:], uint64(s.Blocks))
	for i, t := range []int64{s.Atime, s.Mtime, s.Ctime} {
		sec, nsec := splitNs(t)
		le.PutUint64(b[72+16*i:], uint64(sec))
		le.PutUint64(b[80+16*i:], uint64(nsec))
	}
	return b
}

// statxBasic is the mask of what kernelStatx fills (STATX_BASIC_STATS).
const statxBasic = 0x7ff

// kernelStatx is struct statx (256 bytes).
func kernelStatx(s remoteStat) []byte {
	b := make([]byte, 256)
	le := binary.LittleEndian
	le.PutUint32(b[0:], statxBasic)
	le.PutUint32(b[4:], uint32(s.Blksize))
	le.PutUint32(b[16:], uint32(s.Nlink))
	le.PutUint32(b[20:], s.UID)
	le.PutUint32(b[24:], s.GID)
	le.PutUint16(b[28:], uint16(s.Mode))
	le.PutUint64(b[32:], s.Ino)
	le.PutUint64(b[40:], uint64(s.Size))
	le.PutUint64(b[48:], uint64(s.Blocks))
	put := func(off int, ns int64) {
		sec, nsec := splitNs(ns)
		le.PutUint64(b[off:], uint64(sec))
		le.PutUint32(b[off+8:], uint32(nsec))
	}
	put(64, s.Atime)
	put(96, s.Ctime)
	put(112, s.Mtime)
	le.PutUint32(b[128:], unix.Major(s.Rdev))
	le.PutUint32(b[132:], unix.Minor(s.Rdev))
	le.PutUint32(b[136:], unix.Major(s.Dev))
	le.PutUint32(b[140:], unix.Minor(s.Dev))
	return b
}
