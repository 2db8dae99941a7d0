package supervisor

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// dispatch handles a notification: calls it can decide at once (the fast
// path rules, local addresses) are answered here; the rest returns a
// function that asks the intproxy, run on its own goroutine.
func (s *Supervisor) dispatch(n *notif) func() {
	if n.Arch != auditArch {
		s.cont(n)
		return nil
	}
	if nr := int64(n.Nr); nr == sysExecve || nr == sysExecveat {
		s.execve(n)
		return nil
	}
	p := s.proc(n.PID)
	if p == nil || p.off {
		s.cont(n)
		return nil
	}
	a := &n.Args
	var slow func()
	switch int64(n.Nr) {
	case sysOpenat:
		slow = s.open(n, p, a[1], a[2], a[3])
	case sysOpen:
		slow = s.open(n, p, a[0], a[1], a[2])
	case sysOpenat2:
		slow = s.openat2(n, p, a[1], a[2], a[3])
	case sysStat:
		slow = s.stat(n, p, a[0], a[1], true, false)
	case sysLstat:
		slow = s.stat(n, p, a[0], a[1], false, false)
	case sysNewfstatat:
		slow = s.stat(n, p, a[1], a[2], a[3]&unix.AT_SYMLINK_NOFOLLOW == 0, false)
	case sysStatx:
		slow = s.stat(n, p, a[1], a[4], a[2]&unix.AT_SYMLINK_NOFOLLOW == 0, true)
	case sysAccess:
		slow = s.access(n, p, a[0], a[1])
	case sysFaccessat, sysFaccessat2:
		slow = s.access(n, p, a[1], a[2])
	case sysReadlink:
		slow = s.readlink(n, p, a[0], a[1], a[2])
	case sysReadlinkat:
		slow = s.readlink(n, p, a[1], a[2], a[3])
	case sysConnect:
		slow = s.connect(n, p, a[0], a[1], a[2])
	case sysBind:
		slow = s.bind(n, p, a[0], a[1], a[2])
	case sysListen:
		slow = s.listen(n, p, a[0], a[1])
	case sysGetpeername:
		s.getpeername(n, p, a[0], a[1], a[2])
	case sysGetsockname:
		s.getsockname(n, p, a[0], a[1], a[2])
	case sysSendto:
		slow = s.sendto(n, p, a[0], a[1], a[2], a[3], a[4], a[5])
	case sysRecvfrom:
		slow = s.recvfrom(n, p, a[0], a[1], a[2], a[3], a[4], a[5])
	case sysAccept:
		slow = s.accept(n, p, a[0], a[1], a[2], 0)
	case sysAccept4:
		slow = s.accept(n, p, a[0], a[1], a[2], a[3])
	case sysMkdir:
		slow = s.pathOp(n, p, wire.PathMkdir, a[0], 0, a[1])
	case sysMkdirat:
		slow = s.pathOp(n, p, wire.PathMkdir, a[1], 0, a[2])
	case sysUnlink:
		slow = s.pathOp(n, p, wire.PathUnlink, a[0], 0, 0)
	case sysRmdir:
		slow = s.pathOp(n, p, wire.PathRmdir, a[0], 0, 0)
	case sysUnlinkat:
		kind := wire.PathUnlink
		if a[2]&unix.AT_REMOVEDIR != 0 {
			kind = wire.PathRmdir
		}
		slow = s.pathOp(n, p, kind, a[1], 0, 0)
	case sysRename:
		slow = s.pathOp(n, p, wire.PathRename, a[0], a[1], 0)
	case sysRenameat, sysRenameat2:
		// renameat2's flags are ignored for a remote rename, as in C
		slow = s.pathOp(n, p, wire.PathRename, a[1], a[3], 0)
	default:
		s.cont(n)
	}
	return slow
}

// execve lets the call run and remembers that the process may become a
// new image (settleExec decides at its next call): then it is introduced
// to the intproxy afresh (its name decides skip_processes, its executable
// the default-local paths), as the C layer's hello after exec does, and
// the old image's control connections close, which ends its subscriptions
// and writes back its files. A failed execve changes nothing.
func (s *Supervisor) execve(n *notif) {
	s.mu.Lock()
	p := s.tids[n.PID].p
	s.mu.Unlock()
	if p == nil {
		if st, err := readStatus(int(n.PID)); err == nil {
			s.mu.Lock()
			p = s.procs[st.tgid]
			s.mu.Unlock()
		}
	}
	if p != nil {
		pe := pendingExec{p: p, tid: n.PID}
		pe.image, pe.imageOK = imageID(p.tgid)
		s.mu.Lock()
		s.execing[p.tgid] = pe
		s.mu.Unlock()
	}
	s.cont(n)
}

// pathLocal applies what the C layer decides alone: file hooks off,
// relative paths, and the fast rules of the hello answer.
func (p *process) pathLocal(path string) bool {
	if p.hello.flags&wire.FlagFS == 0 || len(path) == 0 || path[0] != '/' {
		return true
	}
	if p.hello.flags&wire.FlagFSFast != 0 {
		path = strings.ToLower(path) // once, not once a rule
		for _, r := range p.hello.rules {
			if r.Match(path) {
				return r.Act == wire.ActLocal
			}
		}
	}
	return false
}

// pathArg reads a path argument and decides the local cases; it returns
// ok false when the call was already answered (continued).
func (s *Supervisor) pathArg(n *notif, p *process, addr uint64) (string, bool) {
	if p.hello.flags&wire.FlagFS == 0 {
		s.cont(n)
		return "", false
	}
	path, err := readPath(n.PID, addr)
	if err != nil || p.pathLocal(path) {
		s.cont(n) // a bad pointer or a long path fails natively
		return "", false
	}
	return path, true
}

// answer installs the common answers: local continues, errno fails.
// It reports whether r was an OK answer left to the caller.
func (s *Supervisor) answer(n *notif, r response, err error) bool {
	switch {
	case err != nil:
		// as the C layer: the intproxy is gone, decide locally
		if !errors.Is(err, errProcessGone) {
			s.lostOnce.Do(func() {
				s.log.Warn("lost the intproxy: supervised calls run natively from now on", "err", err)
			})
		}
		s.cont(n)
	case r.status == wire.StatusLocal:
		s.cont(n)
	case r.status == wire.StatusErrno:
		s.fail(n, r.errno())
	case r.status == wire.StatusOK:
		return true
	default:
		s.fail(n, unix.EIO)
	}
	return false
}

// askOK checks that n is still pending, asks the intproxy and installs the
// common answers (answer); ok is true for an OK answer, whose body the
// caller acts on (an fd in it is closed).
func (s *Supervisor) askOK(n *notif, p *process, frame []byte) (response, bool) {
	if !s.checked(n) {
		return response{fd: -1}, false
	}
	r, err := p.ask(frame)
	closeIf(r.fd)
	return r, s.answer(n, r, err)
}

// wireStr is the string of a u16-length-prefixed body (ok false when
// the body is short).
func wireStr(b []byte) ([]byte, bool) {
	if len(b) < 2 || len(b) < 2+int(binary.LittleEndian.Uint16(b)) {
		return nil, false
	}
	return b[2 : 2+int(binary.LittleEndian.Uint16(b))], true
}

func (s *Supervisor) open(n *notif, p *process, pathAddr, flags, mode uint64) func() {
	path, ok := s.pathArg(n, p, pathAddr)
	if !ok {
		return nil
	}
	return func() {
		if !s.checked(n) {
			return
		}
		r, err := p.ask(wire.NewRequest(wire.OpOpen).U32(uint32(flags)).U32(uint32(mode)).Str(path).Frame())
		defer closeIf(r.fd)
		if !s.answer(n, r, err) {
			return
		}
		if r.fd < 0 {
			s.fail(n, unix.EIO)
			return
		}
		// A token (write mode) would be reported at close by the C layer;
		// here the intproxy writes the file back when the process exits.
		s.sendFD(n, r.fd, flags&unix.O_CLOEXEC != 0)
	}
}

// openat2's struct open_how: flags, mode, resolve (u64 each).
func (s *Supervisor) openat2(n *notif, p *process, pathAddr, howAddr, size uint64) func() {
	var how [24]byte
	if size < 24 {
		s.cont(n)
		return nil
	}
	if r, err := readMem(n.PID, howAddr, how[:]); err != nil || r != 24 || binary.LittleEndian.Uint64(how[16:]) != 0 {
		s.cont(n) // RESOLVE_* restrictions: native
		return nil
	}
	return s.open(n, p, pathAddr, binary.LittleEndian.Uint64(how[0:]), binary.LittleEndian.Uint64(how[8:]))
}

func (s *Supervisor) stat(n *notif, p *process, pathAddr, buf uint64, follow, statx bool) func() {
	path, ok := s.pathArg(n, p, pathAddr)
	if !ok {
		return nil
	}
	var f uint8
	if follow {
		f = 1
	}
	return func() {
		r, ok := s.askOK(n, p, wire.NewRequest(wire.OpStat).U8(f).Str(path).Frame())
		if !ok {
			return
		}
		st, ok := decodeStat(r.body)
		if !ok {
			s.fail(n, unix.EIO)
			return
		}
		out := kernelStat(st)
		if statx {
			out = kernelStatx(st)
		}
		if err := writeMem(n.PID, buf, out); err != nil {
			s.fail(n, unix.EFAULT)
			return
		}
		s.ret(n, 0)
	}
}

// pathOp is mkdir, unlink, rmdir or rename (newAddr) of a path the fast
// rules do not keep local: the intproxy does it in the target (write
// mode), says local, or EXDEV for a rename between a local and a remote
// path.
func (s *Supervisor) pathOp(n *notif, p *process, kind uint8, pathAddr, newAddr, mode uint64) func() {
	if p.hello.flags&wire.FlagFS == 0 {
		s.cont(n)
		return nil
	}
	path, err := readPath(n.PID, pathAddr)
	if err != nil {
		s.cont(n)
		return nil
	}
	var newPath string
	remote := !p.pathLocal(path)
	if kind == wire.PathRename {
		if newPath, err = readPath(n.PID, newAddr); err != nil {
			s.cont(n)
			return nil
		}
		remote = remote || !p.pathLocal(newPath)
	}
	if !remote {
		s.cont(n)
		return nil
	}
	return func() {
		if _, ok := s.askOK(n, p, wire.NewRequest(wire.OpPath).U8(kind).U32(uint32(mode)).Str(path).Str(newPath).Frame()); ok {
			s.ret(n, 0)
		}
	}
}

func (s *Supervisor) access(n *notif, p *process, pathAddr, mode uint64) func() {
	path, ok := s.pathArg(n, p, pathAddr)
	if !ok {
		return nil
	}
	return func() {
		if _, ok := s.askOK(n, p, wire.NewRequest(wire.OpAccess).U32(uint32(mode)).Str(path).Frame()); ok {
			s.ret(n, 0)
		}
	}
}

func (s *Supervisor) readlink(n *notif, p *process, pathAddr, buf, size uint64) func() {
	path, ok := s.pathArg(n, p, pathAddr)
	if !ok {
		return nil
	}
	return func() {
		r, ok := s.askOK(n, p, wire.NewRequest(wire.OpReadLink).Str(path).Frame())
		if !ok {
			return
		}
		target, ok := wireStr(r.body)
		if !ok {
			s.fail(n, unix.EIO)
			return
		}
		if int(size) <= 0 {
			s.fail(n, unix.EINVAL)
			return
		}
		target = target[:min(uint64(len(target)), size)]
		if err := writeMem(n.PID, buf, target); err != nil {
			s.fail(n, unix.EFAULT)
			return
		}
		s.ret(n, int64(len(target)))
	}
}

// sockArg reads a sockaddr argument; ok is false when the call was
// answered (continued) because the address is not an inet one mirrord
// decides on.
func (s *Supervisor) sockArg(n *notif, addr, size uint64) (sockAddr, bool) {
	if size < 2 || size > maxSockaddr || addr == 0 {
		s.cont(n)
		return sockAddr{}, false
	}
	buf := make([]byte, size)
	if r, err := readMem(n.PID, addr, buf); err != nil || r != len(buf) {
		s.cont(n)
		return sockAddr{}, false
	}
	sa, ok := parseSockaddr(buf)
	if !ok || (sa.Family != unix.AF_INET && sa.Family != unix.AF_INET6) || sa.Addr.Port() == 0 {
		s.cont(n)
		return sockAddr{}, false
	}
	return sa, true
}

// socket is a duplicate of the process's socket fd (pidfd_getfd): the
// same open file description, so what the supervisor does to it happens
// to the program's socket.
type socket struct {
	fd, domain, typ int
}

func (p *process) socket(fd uint64) (socket, error) {
	dup, err := unix.PidfdGetfd(p.pidfd, int(int32(fd)), 0)
	if err != nil {
		return socket{fd: -1}, err
	}
	sk := socket{fd: dup}
	if sk.domain, err = unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil {
		sk.typ, err = unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE)
	}
	if err != nil {
		_ = unix.Close(dup)
		return socket{fd: -1}, err
	}
	return sk, nil
}

func (sk socket) close() { closeIf(sk.fd) }

// socketIno is socket and its inode, which keys the process's listeners,
// peers and subscriptions.
func (p *process) socketIno(fd uint64) (socket, uint64, error) {
	sk, err := p.socket(fd)
	if err != nil {
		return sk, 0, err
	}
	ino, err := inode(sk.fd)
	if err != nil {
		sk.close()
		return socket{fd: -1}, 0, err
	}
	return sk, ino, nil
}

func inode(fd int) (uint64, error) {
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	return st.Ino, err
}

// destArg reads a destination sockaddr and decides what stays local:
// outgoing traffic of the kinds in want is off, or a loopback address
// with ignore_localhost. ok is false when the call was continued.
func (s *Supervisor) destArg(n *notif, p *process, want uint32, addr, size uint64) (sockAddr, bool) {
	f := p.hello.flags
	if f&want == 0 {
		s.cont(n)
		return sockAddr{}, false
	}
	sa, ok := s.sockArg(n, addr, size)
	if !ok {
		return sockAddr{}, false
	}
	if f&wire.FlagIgnoreLocalhost != 0 && isLoopback(sa.Addr.Addr()) {
		s.cont(n)
		return sockAddr{}, false
	}
	return sa, true
}

func isLoopback(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified()
}

func (s *Supervisor) connect(n *notif, p *process, fd, addr, size uint64) func() {
	f := p.hello.flags
	if f&wire.FlagUnixRemote != 0 && size > 2 && size <= unix.SizeofSockaddrUnix && addr != 0 {
		var fam [2]byte
		if r, err := readMem(n.PID, addr, fam[:]); err == nil && r == 2 && binary.LittleEndian.Uint16(fam[:]) == unix.AF_UNIX {
			return s.connectUnix(n, p, fd, addr, size)
		}
	}
	sa, ok := s.destArg(n, p, wire.FlagOutTCP|wire.FlagOutUDP, addr, size)
	if !ok {
		return nil
	}
	return func() {
		sk, err := p.socket(fd)
		if err != nil {
			s.cont(n) // not a socket, or a bad fd: the kernel says so
			return
		}
		defer sk.close()
		var proto uint8
		switch {
		case sk.typ == unix.SOCK_STREAM && f&wire.FlagOutTCP != 0:
			proto = wire.ProtoTCP
		case sk.typ == unix.SOCK_DGRAM && f&wire.FlagOutUDP != 0:
			proto = wire.ProtoUDP
		}
		if proto == 0 || int(sa.Family) != sk.domain {
			s.cont(n)
			return
		}
		r, ok := s.askOK(n, p, wire.NewRequest(wire.OpConnect).U8(proto).Addr(sa.Addr).Frame())
		if !ok {
			return
		}
		via, ok := decodeAddr(r.body)
		if !ok {
			s.fail(n, unix.EIO)
			return
		}
		// The program's socket connects to the intproxy's interceptor; a
		// non-blocking one gets EINPROGRESS as it would from the kernel.
		err = unix.Connect(sk.fd, encodeSockaddr(sk.domain, via))
		if err == nil || err == unix.EINPROGRESS {
			p.rememberPeer(sk.fd, sa.Addr)
		}
		if err != nil {
			s.fail(n, errnoOf(err))
			return
		}
		s.ret(n, 0)
	}
}

// accept of a subscribed, non-blocking listener is done by the
// supervisor, so that the program learns who really connected: a stolen
// or mirrored connection comes from the intproxy's local dial, and the
// intproxy says whose it is (as it tells the C layer). The new socket is
// installed with ADDFD. For a blocking listener the supervisor waits
// for the connection in the program's place (readyToTake).
func (s *Supervisor) accept(n *notif, p *process, fd, addr, lenAddr, flags uint64) func() {
	p.mu.Lock()
	none := len(p.subscribed) == 0
	p.mu.Unlock()
	if none || flags&^uint64(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		s.cont(n)
		return nil
	}
	return func() {
		sk, ino, err := p.socketIno(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		p.mu.Lock()
		port, ok := p.subscribed[ino]
		p.mu.Unlock()
		if !ok {
			s.cont(n)
			return
		}
		var size int
		if addr != 0 {
			if size, ok = s.sockLen(n, lenAddr); !ok {
				return
			}
		}
		if !s.checked(n) {
			return
		}
		if !s.readyToTake(n, sk.fd, false) {
			return
		}
		nfd, from, err := unix.Accept4(sk.fd, int(flags&unix.SOCK_NONBLOCK)|unix.SOCK_CLOEXEC)
		if err != nil {
			s.fail(n, errnoOf(err)) // EAGAIN, as the kernel would say
			return
		}
		defer closeIf(nfd)
		peer, _ := addrOfSockaddr(from)
		if peer.Addr().Unmap().IsLoopback() {
			r, err := p.ask(wire.NewRequest(wire.OpAccepted).U16(port).U16(peer.Port()).Frame())
			closeIf(r.fd)
			if err == nil && r.status == wire.StatusOK {
				if real, ok := decodeAddr(r.body); ok {
					peer = real
					p.rememberPeer(nfd, real)
				}
			}
		}
		if addr != 0 && peer.IsValid() && writeSockaddr(n.PID, addr, lenAddr, size, sk.domain, peer) != nil {
			s.fail(n, unix.EFAULT)
			return
		}
		s.sendFD(n, nfd, flags&unix.SOCK_CLOEXEC != 0)
	}
}

// readyToTake returns at once for a non-blocking socket fd (the
// supervisor's duplicate) or a call that asked not to wait; for a
// blocking one it waits until fd is readable (awaitReadable). It reports
// whether the call should go on; false: it was answered.
func (s *Supervisor) readyToTake(n *notif, fd int, dontWait bool) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		s.cont(n)
		return false
	}
	return fl&unix.O_NONBLOCK != 0 || dontWait || s.awaitReadable(n, fd)
}

// awaitReadable waits, for a blocking accept or recvfrom, until the socket fd
// (the supervisor's duplicate) has a connection or a datagram, as the
// caller's thread would in the kernel. While it waits it watches the caller (every 100
// ms): a signal sent to the thread that it would handle ends the call
// with ERESTARTSYS, so the kernel runs the handler and then restarts the
// accept or fails it with EINTR, as the handler's SA_RESTART says; one
// sent to the process ends it with EINTR; a caller gone (killed) ends
// the wait. It reports whether the call should go on.
func (s *Supervisor) awaitReadable(n *notif, fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		pfd[0].Revents = 0
		r, err := unix.Poll(pfd, 100)
		if err != nil && err != unix.EINTR {
			s.fail(n, errnoOf(err))
			return false
		}
		if r > 0 {
			return true
		}
		if !s.valid(n) {
			s.nDropped.Add(1)
			return false
		}
		if s.stopping.Load() {
			s.cont(n) // Close: the accept goes on natively
			return false
		}
		switch signalPending(n.PID) {
		case sigThread:
			s.send(&notifResp{ID: n.ID, Error: -errRestartSys})
			return false
		case sigProcess:
			// the kernel may have chosen another thread for it, and
			// ERESTARTSYS must not reach a thread without a signal
			s.fail(n, unix.EINTR)
			return false
		}
	}
}

// errRestartSys is the kernel's ERESTARTSYS: a syscall result that never
// reaches the program (the kernel restarts the call or makes it EINTR).
const errRestartSys = 512

// Pending signals, as signalPending finds them.
const (
	sigNone    = iota
	sigThread  // sent to the thread: the kernel delivers it to it
	sigProcess // sent to the process: some thread takes it
)

// signalPending says whether thread tid has a pending signal that is
// neither blocked nor ignored, and whose it is (from /proc/TID/status).
func signalPending(tid uint32) int {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return sigNone
	}
	var pnd, shd, blk, ign uint64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		x, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			continue
		}
		switch k {
		case "SigPnd":
			pnd = x
		case "ShdPnd":
			shd = x
		case "SigBlk":
			blk = x
		case "SigIgn":
			ign = x
		}
	}
	switch {
	case pnd&^(blk|ign) != 0:
		return sigThread
	case shd&^(blk|ign) != 0:
		return sigProcess
	}
	return sigNone
}

// maxPeers bounds the remembered peers of a process (closes are not
// notified, so entries of closed sockets stay until this many).
const maxPeers = 4096

func (p *process) rememberPeer(fd int, peer netip.AddrPort) {
	ino, err := inode(fd)
	if err != nil {
		return
	}
	p.mu.Lock()
	if len(p.peers) >= maxPeers {
		clear(p.peers)
	}
	p.peers[ino] = peer
	p.mu.Unlock()
}

// getpeername reports the remote address of a connection the supervisor
// sent through an interceptor (the kernel would report the interceptor's
// loopback address); everything else is the kernel's.
func (s *Supervisor) getpeername(n *notif, p *process, fd, addr, lenAddr uint64) {
	s.reportName(n, p, fd, addr, lenAddr, func() bool { return len(p.peers) != 0 },
		func(sk socket, ino uint64) (netip.AddrPort, bool) {
			p.mu.Lock()
			defer p.mu.Unlock()
			peer, ok := p.peers[ino]
			return peer, ok
		})
}

// reportName answers getpeername/getsockname with the address name finds
// for the socket (has, called with p.mu held, says whether the process
// has any such socket); without one the call runs natively.
func (s *Supervisor) reportName(n *notif, p *process, fd, addr, lenAddr uint64, has func() bool, name func(sk socket, ino uint64) (netip.AddrPort, bool)) {
	p.mu.Lock()
	none := !has()
	p.mu.Unlock()
	if none || addr == 0 || lenAddr == 0 {
		s.cont(n)
		return
	}
	sk, ino, err := p.socketIno(fd)
	if err != nil {
		s.cont(n)
		return
	}
	defer sk.close()
	a, ok := name(sk, ino)
	if !ok {
		s.cont(n)
		return
	}
	size, ok := s.sockLen(n, lenAddr)
	if !ok || !s.checked(n) {
		return
	}
	if writeSockaddr(n.PID, addr, lenAddr, size, sk.domain, a) != nil {
		s.fail(n, unix.EFAULT)
		return
	}
	s.ret(n, 0)
}

// sockLen reads the socklen_t at addr; ok is false when the call was
// answered: continued when it cannot be read (the kernel fails it),
// EINVAL when negative.
func (s *Supervisor) sockLen(n *notif, addr uint64) (int, bool) {
	var lb [4]byte
	if r, err := readMem(n.PID, addr, lb[:]); err != nil || r != 4 {
		s.cont(n)
		return 0, false
	}
	size := int(int32(binary.LittleEndian.Uint32(lb[:])))
	if size < 0 {
		s.fail(n, unix.EINVAL)
		return 0, false
	}
	return size, true
}

// writeSockaddr writes a's struct sockaddr at addr, cut to size bytes,
// and its whole length at lenAddr, as accept and getpeername return it.
func writeSockaddr(tid uint32, addr, lenAddr uint64, size, domain int, a netip.AddrPort) error {
	raw := sockaddrBytes(domain, a)
	var lb [4]byte
	binary.LittleEndian.PutUint32(lb[:], uint32(len(raw)))
	if err := writeMem(tid, addr, raw[:min(size, len(raw))]); err != nil {
		return err
	}
	return writeMem(tid, lenAddr, lb[:])
}

// sockaddrBytes is struct sockaddr_in or sockaddr_in6 (v4-mapped in an
// AF_INET6 socket) for a.
func sockaddrBytes(domain int, a netip.AddrPort) []byte {
	if domain == unix.AF_INET6 {
		b := make([]byte, unix.SizeofSockaddrInet6)
		binary.LittleEndian.PutUint16(b, unix.AF_INET6)
		binary.BigEndian.PutUint16(b[2:], a.Port())
		ip := a.Addr().As16()
		copy(b[8:], ip[:])
		return b
	}
	b := make([]byte, unix.SizeofSockaddrInet4)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], a.Port())
	ip := a.Addr().Unmap().As4()
	copy(b[4:], ip[:])
	return b
}

// errnoOf is err as an errno (EIO when it is not one).
func errnoOf(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}

// connectUnix sends a unix stream connection to the target when the
// intproxy says so (outgoing.unix_streams): the program's socket connects
// to the intproxy's local socket for it.
func (s *Supervisor) connectUnix(n *notif, p *process, fd, addr, size uint64) func() {
	buf := make([]byte, size)
	if r, err := readMem(n.PID, addr, buf); err != nil || r != len(buf) {
		s.cont(n)
		return nil
	}
	path, _ := cString(buf[2:])
	if len(path) == 0 || path[0] != '/' { // unnamed or abstract: local
		s.cont(n)
		return nil
	}
	return func() {
		sk, err := p.socket(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		if sk.domain != unix.AF_UNIX || sk.typ != unix.SOCK_STREAM {
			s.cont(n)
			return
		}
		r, ok := s.askOK(n, p, wire.NewRequest(wire.OpConnect).U8(wire.ProtoUnix).U8(wire.FamUnix).Str(string(path)).Frame())
		if !ok {
			return
		}
		via, ok := wireStr(r.body)
		if !ok {
			s.fail(n, unix.EIO)
			return
		}
		if err := unix.Connect(sk.fd, &unix.SockaddrUnix{Name: string(via)}); err != nil {
			s.fail(n, errnoOf(err))
			return
		}
		s.ret(n, 0)
	}
}

// decodeAddr reads a wire address (family, port, 16 bytes).
func decodeAddr(b []byte) (netip.AddrPort, bool) {
	if len(b) < 19 {
		return netip.AddrPort{}, false
	}
	port := binary.LittleEndian.Uint16(b[1:])
	switch b[0] {
	case wire.FamV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[3:7])), port), true
	case wire.FamV6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[3:19])), port), true
	}
	return netip.AddrPort{}, false
}

func (s *Supervisor) bind(n *notif, p *process, fd, addr, size uint64) func() {
	if p.hello.flags&wire.FlagIncoming == 0 {
		s.cont(n)
		return nil
	}
	sa, ok := s.sockArg(n, addr, size)
	if !ok {
		return nil
	}
	return func() {
		sk, err := p.socket(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		if sk.typ != unix.SOCK_STREAM || int(sa.Family) != sk.domain {
			s.cont(n)
			return
		}
		ino, err := inode(sk.fd)
		if err != nil {
			s.cont(n)
			return
		}
		r, ok := s.askOK(n, p, wire.NewRequest(wire.OpBind).Addr(sa.Addr).Frame())
		if !ok {
			return
		}
		if len(r.body) < 3 {
			s.fail(n, unix.EIO)
			return
		}
		port, fallback := binary.LittleEndian.Uint16(r.body), r.body[2] != 0
		err = unix.Bind(sk.fd, encodeSockaddr(sk.domain, netip.AddrPortFrom(sa.Addr.Addr(), port)))
		if fallback && (err == unix.EADDRINUSE || err == unix.EACCES) {
			err = unix.Bind(sk.fd, encodeSockaddr(sk.domain, netip.AddrPortFrom(sa.Addr.Addr(), 0)))
		}
		if err != nil {
			s.fail(n, errnoOf(err))
			return
		}
		lsa, _ := unix.Getsockname(sk.fd)
		bound, _ := addrOfSockaddr(lsa)
		p.mu.Lock()
		p.listeners[ino] = sa.Addr.Port()
		if sa.Addr.Port() != 0 && bound.IsValid() && bound.Port() != sa.Addr.Port() && len(p.moved) < maxPeers {
			p.moved[ino] = sa.Addr.Port()
		}
		p.mu.Unlock()
		s.ret(n, 0)
	}
}

// getsockname of a socket bound to another port than the program asked
// for reports the port it asked for (the C layer does the same); every
// other one runs natively.
func (s *Supervisor) getsockname(n *notif, p *process, fd, addr, lenAddr uint64) {
	s.reportName(n, p, fd, addr, lenAddr, func() bool { return len(p.moved) != 0 },
		func(sk socket, ino uint64) (netip.AddrPort, bool) {
			p.mu.Lock()
			port, ok := p.moved[ino]
			p.mu.Unlock()
			if !ok {
				return netip.AddrPort{}, false
			}
			lsa, err := unix.Getsockname(sk.fd)
			local, valid := addrOfSockaddr(lsa)
			if err != nil || !valid {
				return netip.AddrPort{}, false
			}
			return netip.AddrPortFrom(local.Addr(), port), true
		})
}

func (s *Supervisor) listen(n *notif, p *process, fd, backlog uint64) func() {
	return func() {
		sk, ino, err := p.socketIno(fd)
		if err != nil {
			s.cont(n)
			return
		}
		defer sk.close()
		p.mu.Lock()
		port, ok := p.listeners[ino]
		delete(p.listeners, ino)
		p.mu.Unlock()
		if !ok {
			s.cont(n) // not bound through the supervisor
			return
		}
		if !s.checked(n) {
			return
		}
		if err := unix.Listen(sk.fd, int(int32(backlog))); err != nil {
			s.fail(n, errnoOf(err))
			return
		}
		lsa, err := unix.Getsockname(sk.fd)
		actual, ok := addrOfSockaddr(lsa)
		if err != nil || !ok {
			s.ret(n, 0)
			return
		}
		r, err := p.ask(wire.NewRequest(wire.OpListen).U16(port).Addr(actual).Frame())
		closeIf(r.fd)
		if err != nil || r.status == wire.StatusLocal {
			s.ret(n, 0) // listening, not subscribed
			return
		}
		if s.answer(n, r, err) {
			p.mu.Lock()
			p.subscribed[ino] = actual.Port()
			p.mu.Unlock()
			s.ret(n, 0)
		}
	}
}
