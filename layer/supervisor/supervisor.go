// Package supervisor runs programs the C layer cannot reach — static
// binaries and Go programs, which make system calls without libc — under
// mirrord, with a seccomp user-notification filter.
//
// The program is started through a re-execution of our own binary
// (Prepare, MaybeInit) that sets no_new_privs, installs a filter sending
// the syscalls mirrord decides on to a listener (SECCOMP_RET_USER_NOTIF,
// SECCOMP_FILTER_FLAG_NEW_LISTENER), passes the listener to the parent
// over a socketpair and execve's the program; the filter is inherited by
// every thread and child. Everything else runs natively.
//
// The Supervisor is a Go client of the intproxy's layer protocol
// (layer/wire): for each notification it reads the arguments from the
// process's memory, asks the intproxy exactly what the C layer would ask
// (one decision engine: outgoing filter, file policy, DNS, ports), checks
// that the notification is still pending (SECCOMP_IOCTL_NOTIF_ID_VALID),
// and then either lets the call run natively
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE), fails it with an errno, installs an
// fd in the process (SECCOMP_IOCTL_NOTIF_ADDFD: a memfd snapshot of a
// remote file), or does the call itself on the process's own socket
// (pidfd_getfd: connect to the intproxy's interceptor, bind the port the
// intproxy chose, listen) so the socket's options and fd number stay the
// program's.
//
// Every remote effect uses the copy of the arguments the supervisor read
// and checked, never memory the program could change afterwards; a call
// decided "local" continues natively, where the kernel reads the
// arguments again — whatever the program swapped in then runs locally, as
// it could have anyway.
package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// Config configures a Supervisor.
type Config struct {
	// Intproxy is the intproxy's layer socket (MIRRORD_LAYER_INTPROXY_ADDR).
	Intproxy string
	// Log receives diagnostics (discarded when nil).
	Log *slog.Logger

	// afterRead, in tests, runs after the arguments were read and before
	// the supervisor checks the notification and acts.
	afterRead func(n *notif)
}

// Stats counts what the supervisor did.
type Stats struct {
	Notifications, Continued, Answered, Dropped uint64
}

// Supervisor answers the notifications of one listener.
type Supervisor struct {
	cfg   Config
	log   *slog.Logger
	fd    int // the listener
	stopR *os.File
	stopW *os.File
	done  chan struct{}
	err   error
	hup   bool // no task used the filter any more

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	stopping atomic.Bool // Close was called: the receiver only continues
	busy     sync.Mutex  // held by the receiver while it dispatches

	orphaned   bool
	handoffErr error

	mu    sync.Mutex
	procs map[int]*process     // by tgid
	tids  map[uint32]threadRef // by thread id
	// execing holds, by tgid, the processes that called execve and whose
	// outcome is not known yet (settleExec)
	execing map[int]pendingExec
	wg      sync.WaitGroup // handlers and process watchers

	nNotif, nCont, nAnswered, nDropped atomic.Uint64
	lostOnce                           sync.Once
}

// New supervises the listener fd (taking ownership of it).
func New(listener int, cfg Config) (*Supervisor, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, w, err := os.Pipe()
	if err != nil {
		_ = unix.Close(listener)
		return nil, err
	}
	s := &Supervisor{
		cfg: cfg, log: cfg.Log, fd: listener, stopR: r, stopW: w, done: make(chan struct{}), stop: make(chan struct{}),
		procs: map[int]*process{}, tids: map[uint32]threadRef{}, execing: map[int]pendingExec{},
	}
	// Wake the supervised thread on the CPU that answers it (and the
	// supervisor on the CPU that notified): a notified call is two
	// wake-ups, and cross-CPU ones dominate its cost (kernel 6.6+).
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	go s.loop()
	return s, nil
}

// Done is closed when no supervised process is left (or Close was called).
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Err is why the loop ended early, after Done; nil when the processes
// exited.
func (s *Supervisor) Err() error {
	<-s.done
	return s.err
}

// Stats returns the counters.
func (s *Supervisor) Stats() Stats {
	return Stats{s.nNotif.Load(), s.nCont.Load(), s.nAnswered.Load(), s.nDropped.Load()}
}

// Close stops supervising and waits for the loop and handlers. Processes
// that still run under the filter (the command left them behind) are
// handed to a detached helper that lets their notified calls run
// natively until they exit — as the C layer falls back to local
// behaviour when its session ends — instead of failing them with ENOSYS.
// Orphaned reports whether there were any.
func (s *Supervisor) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	_, _ = s.stopW.Write([]byte{0})
	<-s.done
	return s.handoffErr
}

// Orphaned reports, after Close, whether processes were left to the
// helper.
func (s *Supervisor) Orphaned() bool {
	<-s.done
	return s.orphaned
}

func (s *Supervisor) loop() {
	var ended chan error
	defer func() {
		s.wg.Wait()
		s.mu.Lock()
		for _, p := range s.procs {
			p.close()
		}
		s.procs, s.tids, s.execing = map[int]*process{}, map[uint32]threadRef{}, map[int]pendingExec{}
		s.mu.Unlock()
		if !s.hup {
			s.orphaned, s.handoffErr = handoff(s.fd)
		}
		_ = unix.Close(s.fd)
		s.stopR.Close()
		s.stopW.Close()
		close(s.done)
	}()
	// The receiver blocks in SECCOMP_IOCTL_NOTIF_RECV itself, with no
	// poll before it: a notified call costs the kernel's two wake-ups and
	// this goroutine's work, nothing more. It owns a duplicate of the
	// listener, because a blocked RECV cannot be interrupted (Go's signal
	// handlers restart it): after Close it only lets calls run natively,
	// as the hand-off helper does, and it ends when no task uses the
	// filter any more.
	rfd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.err = fmt.Errorf("duplicate the seccomp listener: %w", err)
		return
	}
	ended = make(chan error, 1)
	go s.receive(rfd, ended)
	select {
	case err := <-ended:
		if err == nil {
			s.hup = true // no task uses the filter any more
		} else {
			s.err = err
		}
	case <-s.stop:
		// wait out a dispatch in progress: after it, the receiver
		// touches neither s.fd nor s.wg
		s.busy.Lock()
		s.stopping.Store(true)
		s.busy.Unlock()
	}
}

// receive answers notifications until no task uses the filter (nil) or
// RECV fails (the error); it closes fd.
func (s *Supervisor) receive(fd int, ended chan<- error) {
	// one thread: the kernel wakes it on the notifying CPU
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		var n notif
		if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
			if err == unix.EINTR || err == unix.ENOENT && !listenerHup(fd) {
				continue // the task went away before it was received
			}
			_ = unix.Close(fd) // before the loop reports Done
			if err == unix.ENOENT {
				ended <- nil
			} else {
				ended <- fmt.Errorf("receive a seccomp notification: %w", err)
			}
			return
		}
		s.busy.Lock()
		if s.stopping.Load() {
			s.busy.Unlock()
			r := notifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			_ = ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
			continue
		}
		s.nNotif.Add(1)
		if slow := s.dispatch(&n); slow != nil {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				slow()
			}()
		}
		s.busy.Unlock()
	}
}

// listenerHup reports whether no task uses the listener's filter
// (POLLHUP; POLLERR only means a signal interrupted the check).
func listenerHup(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	for {
		pfd[0].Revents = 0
		if _, err := unix.Poll(pfd, 0); err != nil {
			if err == unix.EINTR {
				continue
			}
			return false
		}
		if pfd[0].Revents&unix.POLLERR != 0 && pfd[0].Revents&unix.POLLHUP == 0 {
			continue
		}
		return pfd[0].Revents&unix.POLLHUP != 0
	}
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if e != 0 {
		return e
	}
	return nil
}

// valid reports whether the notification is still pending: the thread
// still waits in the call, so what was read from its memory belongs to it.
func (s *Supervisor) valid(n *notif) bool {
	id := n.ID
	return ioctlPtr(s.fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// checked runs the test hook and then valid.
func (s *Supervisor) checked(n *notif) bool {
	if s.cfg.afterRead != nil {
		s.cfg.afterRead(n)
	}
	if !s.valid(n) {
		s.nDropped.Add(1)
		return false
	}
	return true
}

func (s *Supervisor) send(r *notifResp) {
	if err := ioctlPtr(s.fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r)); err != nil {
		// ENOENT: the call was interrupted (or its process killed)
		s.nDropped.Add(1)
		return
	}
	if r.Flags&unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE != 0 {
		s.nCont.Add(1)
	} else {
		s.nAnswered.Add(1)
	}
}

// cont lets the call run natively.
func (s *Supervisor) cont(n *notif) {
	s.send(&notifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
}

// fail fails the call with errno.
func (s *Supervisor) fail(n *notif, e unix.Errno) {
	s.send(&notifResp{ID: n.ID, Error: -int32(e)})
}

// ret makes the call return v.
func (s *Supervisor) ret(n *notif, v int64) {
	s.send(&notifResp{ID: n.ID, Val: v})
}

// sendFD installs fd in the process as the call's result (atomically:
// SECCOMP_ADDFD_FLAG_SEND), with O_CLOEXEC when cloexec. It does not close fd.
func (s *Supervisor) sendFD(n *notif, fd int, cloexec bool) {
	a := notifAddFD{ID: n.ID, Flags: unix.SECCOMP_ADDFD_FLAG_SEND, SrcFD: uint32(fd)}
	if cloexec {
		a.NewFDFlags = unix.O_CLOEXEC
	}
	if err := ioctlPtr(s.fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&a)); err != nil {
		s.nDropped.Add(1)
		if err != unix.ENOENT {
			s.log.Warn("install an fd in the supervised process", "pid", n.PID, "err", err)
			s.fail(n, errnoOf(err))
		}
		return
	}
	s.nAnswered.Add(1)
}

// process is one supervised process (thread group).
type process struct {
	s       *Supervisor
	tgid    int
	pidfd   int
	taskDir int // /proc/TGID/task (O_PATH): is a thread id still ours?
	hello   helloInfo
	// off: the intproxy could not be reached or said to skip this
	// process; every call runs natively.
	off bool

	mu        sync.Mutex
	idle      []*ctlConn
	all       []*ctlConn
	gone      bool // the control connections are closed
	pidfdGone bool
	tids      []uint32
	listeners map[uint64]uint16 // socket inode -> port the app asked to bind
	// peers are the remote addresses of the outgoing connections the
	// supervisor connected to an interceptor, by socket inode.
	peers map[uint64]netip.AddrPort
	// subscribed are the listeners whose target port is subscribed, by
	// socket inode: their local port.
	subscribed map[uint64]uint16
	// moved are the sockets bound to another port than the one the
	// program asked for (listen_ports, or the port was taken), by socket
	// inode: the port it asked for, which getsockname reports, as the C
	// layer does.
	moved map[uint64]uint16
	// udp are the routes of unconnected UDP sockets, by socket inode
	// (datagram.go)
	udp map[uint64][]udpRoute
}

// proc returns the process of thread tid, introducing it to the intproxy
// on first sight; nil when the thread is gone.
func (s *Supervisor) proc(tid uint32) *process {
	s.mu.Lock()
	ref := s.tids[tid]
	s.mu.Unlock()
	p := ref.p
	if p != nil {
		p = s.settleExec(p, tid)
	}
	if p != nil {
		// A thread id other than the leader's can be recycled once that
		// thread exits (thread exits are not seen here): check it is
		// still one of p's threads, when the last check is older than
		// tidRecheck. The notifying thread waits in its call, so its id
		// cannot change hands after a check.
		now := nanotime()
		if int(tid) == p.tgid || now-ref.checked < tidRecheck {
			return p
		}
		if unix.Faccessat(p.taskDir, strconv.FormatUint(uint64(tid), 10), unix.F_OK, 0) == nil {
			s.mu.Lock()
			if s.tids[tid].p == p {
				s.tids[tid] = threadRef{p, now}
			}
			s.mu.Unlock()
			return p
		}
		s.mu.Lock()
		if s.tids[tid].p == p {
			delete(s.tids, tid)
		}
		s.mu.Unlock()
	}
	st, err := readStatus(int(tid))
	if err != nil {
		return nil
	}
	s.mu.Lock()
	p = s.procs[st.tgid]
	s.mu.Unlock()
	if p != nil {
		s.settleExec(p, tid)
	}
	s.mu.Lock()
	p = s.procs[st.tgid]
	if p != nil {
		s.tids[tid] = threadRef{p, nanotime()}
		p.tids = append(p.tids, tid)
		s.mu.Unlock()
		return p
	}
	s.mu.Unlock()
	// Not known yet: build it outside the lock (hello is a round trip).
	np, err := s.newProcess(st)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p = s.procs[st.tgid]; p != nil { // another thread won
		np.close()
	} else {
		p = np
		s.procs[st.tgid] = p
		s.wg.Add(1)
		go s.watch(p)
	}
	s.tids[tid] = threadRef{p, nanotime()}
	p.tids = append(p.tids, tid)
	return p
}

// threadRef is the process of a thread id and when that was last checked.
type threadRef struct {
	p       *process
	checked int64 // nanotime
}

// tidRecheck is how long a thread id is trusted without checking that it
// still belongs to its process. Recycling an id needs the kernel to hand
// out every other id of the namespace in between (pid_max, at least
// 32,768): no machine creates that many tasks in a millisecond.
const tidRecheck = int64(time.Millisecond)

var clockStart = time.Now()

// nanotime is a monotonic clock in nanoseconds.
func nanotime() int64 { return int64(time.Since(clockStart)) }

type status struct{ tgid, ppid int }

func readStatus(tid int) (status, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return status{}, err
	}
	var st status
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "Tgid":
			st.tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		case "PPid":
			st.ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if st.tgid == 0 {
		return st, errors.New("no Tgid in status")
	}
	return st, nil
}

func (s *Supervisor) newProcess(st status) (*process, error) {
	pidfd, err := unix.PidfdOpen(st.tgid, 0)
	if err != nil {
		return nil, err
	}
	taskDir, err := unix.Open("/proc/"+strconv.Itoa(st.tgid)+"/task", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = unix.Close(pidfd)
		return nil, err
	}
	p := &process{s: s, tgid: st.tgid, pidfd: pidfd, taskDir: taskDir, listeners: map[uint64]uint16{}, peers: map[uint64]netip.AddrPort{}, subscribed: map[uint64]uint16{}, moved: map[uint64]uint16{}, udp: map[uint64][]udpRoute{}}
	c, err := p.dial(st, true)
	if err != nil {
		s.log.Warn("supervised process runs without mirrord", "pid", st.tgid, "err", err)
		p.off = true
		return p, nil
	}
	p.all = append(p.all, c)
	p.idle = append(p.idle, c)
	if p.hello.flags&wire.FlagSkip != 0 {
		p.off = true
	}
	return p, nil
}

// helloFrame describes the process as the C layer's hello does.
func helloFrame(st status) []byte {
	dir := "/proc/" + strconv.Itoa(st.tgid) + "/"
	comm, _ := os.ReadFile(dir + "comm")
	cmdline, _ := os.ReadFile(dir + "cmdline")
	cwd, _ := os.Readlink(dir + "cwd")
	exe, _ := os.Readlink(dir + "exe")
	env, _ := os.ReadFile(dir + "environ")
	var home, tmp string
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("HOME=")); ok {
			home = string(v)
		} else if v, ok := bytes.CutPrefix(kv, []byte("TMPDIR=")); ok {
			tmp = string(v)
		}
	}
	if tmp == "" {
		tmp = "/tmp"
	}
	if len(cmdline) > 0xffff {
		cmdline = cmdline[:0xffff]
	}
	b := wire.NewRequest(wire.OpHello).U32(uint32(st.tgid)).U32(uint32(st.ppid)).
		Str(strings.TrimSpace(string(comm))).U16(uint16(len(cmdline))).Bytes(cmdline)
	return b.Str(cwd).Str(exe).Str(home).Str(tmp).Frame()
}

// dial opens a control connection and says hello (the first one also
// records the hello answer).
func (p *process) dial(st status, first bool) (*ctlConn, error) {
	c, err := dialIntproxy(p.s.cfg.Intproxy)
	if err != nil {
		return nil, err
	}
	r, err := c.call(helloFrame(st))
	if err == nil && r.status != wire.StatusOK {
		err = fmt.Errorf("hello answered with status %d", r.status)
	}
	closeIf(r.fd)
	if err != nil {
		c.Close()
		return nil, err
	}
	h, err := parseHello(r.body)
	if err != nil {
		c.Close()
		return nil, err
	}
	if first {
		p.hello = h
	}
	return c, nil
}

// errProcessGone ends a request of a process that exited meanwhile.
var errProcessGone = errors.New("process gone")

// ask sends a request on an idle control connection (a new one when all
// are busy: one slow call, such as a subscription, must not hold up the
// others) and returns the answer.
func (p *process) ask(frame []byte) (response, error) {
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return response{fd: -1}, errProcessGone
	}
	var c *ctlConn
	if n := len(p.idle); n > 0 {
		c, p.idle = p.idle[n-1], p.idle[:n-1]
	}
	p.mu.Unlock()
	if c == nil {
		st, err := readStatus(p.tgid)
		if err != nil {
			return response{fd: -1}, err
		}
		if c, err = p.dial(st, false); err != nil {
			return response{fd: -1}, err
		}
		p.mu.Lock()
		p.all = append(p.all, c)
		p.mu.Unlock()
	}
	r, err := c.call(frame)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || p.gone {
		c.Close()
		p.all = removeConn(p.all, c)
		closeIf(r.fd)
		if p.gone {
			err = errProcessGone // exited or exec'd meanwhile
		}
		return response{fd: -1}, err
	}
	p.idle = append(p.idle, c)
	return r, nil
}

func removeConn(list []*ctlConn, c *ctlConn) []*ctlConn {
	for i, x := range list {
		if x == c {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// closeConns drops the control connections: the intproxy then ends the
// process's subscriptions and writes back its files.
func (p *process) closeConns() {
	p.mu.Lock()
	all := p.all
	p.all, p.idle, p.gone = nil, nil, true
	p.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

// close is closeConns and closes the pidfd (once).
func (p *process) close() {
	p.closeConns()
	p.mu.Lock()
	done := p.pidfdGone
	p.pidfdGone = true
	p.mu.Unlock()
	if !done {
		_ = unix.Close(p.pidfd)
		_ = unix.Close(p.taskDir)
	}
}

// pendingExec is a process that called execve from thread tid, and the
// image it ran then (imageID, read while the call waited: still the old
// one).
type pendingExec struct {
	p       *process
	tid     uint32
	image   string
	imageOK bool
}

// settleExec returns p for a call of thread tid, or nil when p's image
// was replaced by an execve (p is then forgotten and its connections
// closed: the caller introduces the new image). While an execve of p is
// pending, a call from another of its threads, with the exec'ing thread
// still there, is the old image's (an exec waits for every other thread
// to die). A call from the exec'ing thread itself, or with that thread
// gone (an exec from another thread than the leader takes the leader's
// id), settles it: imageID tells a new image from the old one after a
// failed execve.
func (s *Supervisor) settleExec(p *process, tid uint32) *process {
	s.mu.Lock()
	pe, pending := s.execing[p.tgid]
	s.mu.Unlock()
	if !pending || pe.p != p {
		return p
	}
	if tid != pe.tid && unix.Faccessat(p.taskDir, strconv.FormatUint(uint64(pe.tid), 10), unix.F_OK, 0) == nil {
		return p // an old thread; the exec is not done
	}
	fp, ok := imageID(p.tgid)
	s.mu.Lock()
	if s.execing[p.tgid].p == p {
		delete(s.execing, p.tgid)
	}
	replaced := !ok || !pe.imageOK || fp != pe.image
	if replaced {
		s.forgetLocked(p)
	}
	s.mu.Unlock()
	if !replaced {
		return p // the execve failed: the same image goes on
	}
	p.closeConns()
	return nil
}

// imageID identifies the image process tgid runs: the auxiliary vector
// the kernel saved when it started it (/proc/PID/auxv: the addresses of
// the program headers, the entry point, the vDSO, the random bytes and
// the file name on the new stack — with address randomization new for
// every execve, and never changed by the program; a fork keeps it).
func imageID(tgid int) (string, bool) {
	aux, err := os.ReadFile("/proc/" + strconv.Itoa(tgid) + "/auxv")
	if err != nil || len(aux) == 0 {
		return "", false
	}
	return string(aux), true
}

// forgetLocked removes p from the maps; s.mu is held.
func (s *Supervisor) forgetLocked(p *process) {
	if s.procs[p.tgid] == p {
		delete(s.procs, p.tgid)
	}
	for _, t := range p.tids {
		if s.tids[t].p == p {
			delete(s.tids, t)
		}
	}
}

// watch waits for the process to exit, then forgets it.
func (s *Supervisor) watch(p *process) {
	defer s.wg.Done()
	pfd := []unix.PollFd{
		{Fd: int32(p.pidfd), Events: unix.POLLIN},
		{Fd: int32(s.stopR.Fd()), Events: unix.POLLIN},
	}
	for {
		_, err := unix.Poll(pfd, -1)
		if err == unix.EINTR {
			continue
		}
		break
	}
	s.mu.Lock()
	s.forgetLocked(p)
	delete(s.execing, p.tgid)
	s.mu.Unlock()
	p.close()
}
