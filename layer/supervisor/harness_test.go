package supervisor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// envProbe makes the test binary play a supervised program (probe).
const envProbe = "MIRRORD_SUPERVISOR_TEST_PROBE"

func TestMain(m *testing.M) {
	MaybeInit()
	if os.Getenv(envProbe) != "" {
		os.Exit(probe(os.Args[1:]))
	}
	os.Exit(testbin.Run(m, m.Run))
}

// fakeIntproxy answers the layer protocol with canned decisions: paths
// under /remote/ are remote (content "remote:" + path), connections to
// 192.0.2.0/24 go to an interceptor that answers "via intproxy", binds of
// 8080 are moved to listenPort and listens are recorded.
type fakeIntproxy struct {
	t    testing.TB
	path string
	ln   *net.UnixListener

	mu    sync.Mutex
	reqs  []any
	conns map[net.Conn]bool
	wg    sync.WaitGroup

	interceptor net.Listener
	unixSock    string // answers "via intproxy unix"
	listenPort  uint16
	// listenGate, when set, holds back the connection a listen delivers
	// until it is closed
	listenGate  chan struct{}
	dialPort    uint16 // local port of the delivered connection
	ignoreLocal bool
}

func newFakeIntproxy(t testing.TB) *fakeIntproxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "sv")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIntproxy{t: t, path: filepath.Join(dir, "ip.sock"), conns: map[net.Conn]bool{}}
	f.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: f.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f.interceptor, err = net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.unixSock = filepath.Join(dir, "u.sock")
	uln, err := net.Listen("unix", f.unixSock)
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Add(3)
	go func() {
		defer f.wg.Done()
		for {
			c, err := uln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("via intproxy unix"))
			c.Close()
		}
	}()
	go func() {
		defer f.wg.Done()
		for {
			c, err := f.interceptor.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("via intproxy"))
			c.Close()
		}
	}()
	go func() {
		defer f.wg.Done()
		for {
			c, err := f.ln.AcceptUnix()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		f.ln.Close()
		f.interceptor.Close()
		uln.Close()
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
		os.RemoveAll(dir)
	})
	return f
}

func (f *fakeIntproxy) requests() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]any{}, f.reqs...)
}

// openConns is how many control connections are open.
func (f *fakeIntproxy) openConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeIntproxy) serve(c *net.UnixConn) {
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 4096)
	for {
		payload, err := wire.ReadFrame(c, buf)
		if err != nil {
			return
		}
		req, err := wire.Decode(payload)
		if err != nil {
			f.t.Errorf("fake intproxy: %v", err)
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		b, fd := f.answer(req)
		if fd >= 0 {
			_, _, err = c.WriteMsgUnix(b.Frame(), unix.UnixRights(fd), nil)
			unix.Close(fd)
		} else {
			_, err = c.Write(b.Frame())
		}
		if err != nil {
			return
		}
	}
}

func (f *fakeIntproxy) answer(req any) (*wire.Builder, int) {
	local := wire.NewResponse(wire.StatusLocal)
	switch r := req.(type) {
	case wire.Hello:
		if r.Name == "skipme" {
			return wire.NewResponse(wire.StatusOK).U32(wire.FlagSkip).U16(0), -1
		}
		flags := wire.FlagFS | wire.FlagFSFast | wire.FlagOutTCP | wire.FlagOutUDP | wire.FlagDNS | wire.FlagIncoming | wire.FlagUnixRemote
		if f.ignoreLocal {
			flags |= wire.FlagIgnoreLocalhost
		}
		b := wire.NewResponse(wire.StatusOK).U32(flags).U16(4)
		b.U8(wire.RulePrefix).U8(wire.ActAsk).Str("/remote/")
		b.U8(wire.RulePrefix).U8(wire.ActLocal).Str("/proc")
		b.U8(wire.RulePrefix).U8(wire.ActLocal).Str("/sys")
		b.U8(wire.RulePrefix).U8(wire.ActLocal).Str(os.TempDir())
		return b, -1
	case wire.Open:
		if !strings.HasPrefix(r.Path, "/remote/") {
			return local, -1
		}
		if strings.HasSuffix(r.Path, "/missing") {
			return wire.NewResponse(wire.StatusErrno).U32(uint32(unix.ENOENT)), -1
		}
		fd, err := unix.MemfdCreate("remote", unix.MFD_CLOEXEC)
		if err != nil {
			f.t.Error(err)
			return wire.NewResponse(wire.StatusErrno).U32(uint32(unix.EIO)), -1
		}
		_, _ = unix.Pwrite(fd, []byte("remote:"+r.Path), 0)
		return wire.NewResponse(wire.StatusOK).U64(0), fd
	case wire.Stat:
		if !strings.HasPrefix(r.Path, "/remote/") {
			return local, -1
		}
		return wire.NewResponse(wire.StatusOK).U64(1).U64(42).U32(syscall.S_IFREG | 0o640).U64(1).U32(0).U32(0).
			U64(0).I64(int64(len("remote:" + r.Path))).I64(4096).I64(1).I64(1e9).I64(2e9).I64(3e9), -1
	case wire.Access:
		if !strings.HasPrefix(r.Path, "/remote/") {
			return local, -1
		}
		return wire.NewResponse(wire.StatusOK), -1
	case wire.ReadLink:
		if !strings.HasPrefix(r.Path, "/remote/") {
			return local, -1
		}
		return wire.NewResponse(wire.StatusOK).Str("/remote/target"), -1
	case wire.Connect:
		if r.Proto == wire.ProtoUnix {
			if r.Path != "/remote/app.sock" {
				return local, -1
			}
			return wire.NewResponse(wire.StatusOK).Str(f.unixSock), -1
		}
		if !netip.MustParsePrefix("192.0.2.0/24").Contains(r.Addr.Addr().Unmap()) {
			return local, -1
		}
		if r.Addr.Port() == 1 {
			return wire.NewResponse(wire.StatusErrno).U32(uint32(unix.ECONNREFUSED)), -1
		}
		return wire.NewResponse(wire.StatusOK).Addr(f.interceptor.Addr().(*net.TCPAddr).AddrPort()), -1
	case wire.Bind:
		port := r.Addr.Port()
		if port == 8080 && f.listenPort != 0 {
			port = f.listenPort
		}
		return wire.NewResponse(wire.StatusOK).U16(port).U8(1), -1
	case wire.Listen:
		// deliver one connection, as the intproxy does for a stolen one
		target := r.Actual
		if target.Addr().IsUnspecified() {
			target = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), target.Port())
		}
		f.wg.Add(1)
		gate := f.listenGate
		go func() {
			defer f.wg.Done()
			if gate != nil {
				<-gate
			}
			c, err := net.DialTimeout("tcp", target.String(), 5*time.Second)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.dialPort = uint16(c.LocalAddr().(*net.TCPAddr).Port)
			f.mu.Unlock()
			time.Sleep(2 * time.Second)
			c.Close()
		}()
		return wire.NewResponse(wire.StatusOK), -1
	case wire.Accepted:
		// the accept can come before Dial returned and dialPort is set
		var ours bool
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			f.mu.Lock()
			port := f.dialPort
			f.mu.Unlock()
			if port != 0 {
				ours = r.PeerPort == port
				break
			}
		}
		if !ours {
			return local, -1
		}
		return wire.NewResponse(wire.StatusOK).Addr(netip.MustParseAddrPort("203.0.113.9:5555")), -1
	case wire.PathOp:
		a, b := strings.HasPrefix(r.Path, "/remote/"), strings.HasPrefix(r.NewPath, "/remote/")
		if r.Kind == wire.PathRename && a != b {
			return wire.NewResponse(wire.StatusErrno).U32(uint32(unix.EXDEV)), -1
		}
		if !a {
			return local, -1
		}
		return wire.NewResponse(wire.StatusOK), -1
	}
	return local, -1
}

// supervised runs the probe with args under a supervisor talking to f.
func supervised(t testing.TB, f *fakeIntproxy, cfg Config, args ...string) (string, *Supervisor) {
	t.Helper()
	out, s, err := runSupervised(t, f, cfg, args...)
	if err != nil {
		t.Fatalf("probe %v: %v\n%s", args, err, out)
	}
	return out, s
}

func runSupervised(t testing.TB, f *fakeIntproxy, cfg Config, args ...string) (string, *Supervisor, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envProbe+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	pend, err := Prepare(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		pend.Close()
		t.Fatal(err)
	}
	cfg.Intproxy = f.path
	s, err := pend.Start(cfg)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		err = errors.Join(errors.New("probe timed out"), <-done)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Error("the supervisor did not end after the probe exited")
		s.Close()
	}
	return out.String() + errb.String(), s, err
}

// probe is the supervised program: each argument is one operation.
func probe(args []string) int {
	for _, a := range args {
		op, arg, _ := strings.Cut(a, "=")
		if err := probeOp(op, arg); err != nil {
			fmt.Printf("%s: error %v\n", op, err)
		}
	}
	return 0
}

func probeOp(op, arg string) error {
	switch op {
	case "cat":
		b, err := os.ReadFile(arg)
		if err != nil {
			return err
		}
		fmt.Printf("cat %s\n", b)
	case "stat":
		st, err := os.Stat(arg)
		if err != nil {
			return err
		}
		fmt.Printf("stat %d %v %d\n", st.Size(), st.Mode(), st.ModTime().Unix())
	case "statx":
		var st unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, arg, 0, unix.STATX_BASIC_STATS, &st); err != nil {
			return err
		}
		fmt.Printf("statx %d %o %d\n", st.Size, st.Mode, st.Mtime.Sec)
	case "access":
		fmt.Printf("access %v\n", unix.Access(arg, unix.R_OK))
	case "readlink":
		l, err := os.Readlink(arg)
		if err != nil {
			return err
		}
		fmt.Printf("readlink %s\n", l)
	case "connect":
		c, err := net.DialTimeout("tcp", arg, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		fmt.Printf("connect %s\n", b)
		return err
	case "unix":
		c, err := net.DialTimeout("unix", arg, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		fmt.Printf("unix %s\n", b)
		return err
	case "mkdir":
		fmt.Printf("mkdir %v\n", os.Mkdir(arg, 0o755))
	case "rmdir":
		fmt.Printf("rmdir %v\n", unix.Rmdir(arg))
	case "unlink":
		fmt.Printf("unlink %v\n", unix.Unlink(arg))
	case "rename":
		a, b, _ := strings.Cut(arg, ",")
		fmt.Printf("rename %v\n", unix.Rename(a, b))
	case "peer":
		c, err := net.DialTimeout("tcp", arg, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Printf("peer %s\n", c.RemoteAddr())
	case "listen":
		ln, err := net.Listen("tcp", arg)
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Printf("listen %s\n", ln.Addr())
	case "acceptone":
		ln, err := net.Listen("tcp", arg)
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Printf("accepted %s\n", c.RemoteAddr())
	case "acceptblock", "acceptsig":
		// a blocking accept on a raw socket (Go's own are non-blocking);
		// acceptsig first prints its thread id and reports SIGUSR1s
		if op == "acceptsig" {
			runtime.LockOSThread()
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGUSR1)
			go func() {
				for range sig {
					fmt.Println("signal")
				}
			}()
			fmt.Printf("tid %d\n", unix.Gettid())
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ap := netip.MustParseAddrPort(arg)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
			return err
		}
		if err := unix.Listen(fd, 8); err != nil {
			return err
		}
		for {
			nfd, from, err := unix.Accept(fd)
			if err == unix.EINTR {
				fmt.Println("EINTR")
				continue
			}
			if err != nil {
				return err
			}
			unix.Close(nfd)
			peer, _ := addrOfSockaddr(from)
			fmt.Printf("accepted %s\n", peer)
			return nil
		}
	case "swap":
		// openat with a buffer the test rewrites (through the
		// supervisor's afterRead hook) once the supervisor has read it
		buf := make([]byte, 64)
		copy(buf, arg+"\x00")
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafePointer(buf)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e != 0 {
			return e
		}
		f := os.NewFile(fd, "swapped")
		defer f.Close()
		b, _ := io.ReadAll(f)
		now, _ := cString(buf)
		fmt.Printf("swap buffer=%s content=%s\n", now, b)
	case "loop":
		// 10,000 notified calls of every kind, then the fd count
		n := 0
		_, _ = fmt.Sscan(arg, &n)
		for i := 0; i < n; i++ {
			switch i % 5 {
			case 0:
				if _, err := os.ReadFile("/remote/loop"); err != nil {
					return err
				}
			case 1:
				if _, err := os.Stat("/remote/loop"); err != nil {
					return err
				}
			case 2:
				if _, err := os.ReadFile("/proc/self/stat"); err != nil {
					return err
				}
			case 3:
				if _, err := os.ReadFile("/remote/missing"); !os.IsNotExist(err) {
					return fmt.Errorf("missing remote file: %v", err)
				}
			case 4:
				c, err := net.DialTimeout("tcp", "192.0.2.7:80", 10*time.Second)
				if err != nil {
					return err
				}
				c.Close()
			}
		}
	case "openbench":
		// wall-clock ns per open+close of a default-local path
		n := 0
		_, _ = fmt.Sscan(arg, &n)
		best := time.Duration(1 << 62)
		for round := 0; round < 5; round++ {
			t0 := time.Now()
			for i := 0; i < n; i++ {
				fd, err := unix.Open("/proc/self/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return err
				}
				unix.Close(fd)
			}
			best = min(best, time.Since(t0))
		}
		fmt.Printf("open_ns %d\n", best.Nanoseconds()/int64(n))
		// a syscall the filter does not notify: only the BPF program runs
		best = time.Duration(1 << 62)
		for round := 0; round < 5; round++ {
			t0 := time.Now()
			for i := 0; i < n*10; i++ {
				unix.Getppid()
			}
			best = min(best, time.Since(t0))
		}
		fmt.Printf("getppid_ns %.1f\n", float64(best.Nanoseconds())/float64(n*10))
	case "pid":
		fmt.Printf("pid %d\n", os.Getpid())
	case "env":
		fmt.Printf("env %s=%s\n", arg, os.Getenv(arg))
	case "execfail":
		// an execve that fails: the same image goes on
		err := syscall.Exec(arg, []string{arg}, os.Environ())
		fmt.Printf("execfail %v\n", err)
	case "exec":
		// become PATH (a link to this binary) running the rest
		path, rest, _ := strings.Cut(arg, ",")
		return syscall.Exec(path, append([]string{path}, strings.Split(rest, ",")...), os.Environ())
	case "orphan":
		// leave a process behind that works after the supervisor is gone
		self, _ := os.Executable()
		cmd := exec.Command(self, "later="+arg)
		cmd.Env = os.Environ()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		fmt.Println("orphan started")
		return cmd.Process.Release()
	case "later":
		time.Sleep(time.Second)
		_, rerr := os.ReadFile("/remote/x")
		_, lerr := os.ReadFile("/proc/self/stat")
		return os.WriteFile(arg, []byte(fmt.Sprintf("remote=%v local=%v", rerr, lerr)), 0o644)
	case "parallel":
		// N goroutines (so several threads) at once: remote reads, stats
		// and connects, each checked
		n := 0
		_, _ = fmt.Sscan(arg, &n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					path := fmt.Sprintf("/remote/g%d/%d", g, i)
					b, err := os.ReadFile(path)
					if err != nil || string(b) != "remote:"+path {
						errs <- fmt.Errorf("%s: %q %v", path, b, err)
						return
					}
					c, err := net.DialTimeout("tcp", "192.0.2.7:80", 10*time.Second)
					if err != nil {
						errs <- err
						return
					}
					b, err = io.ReadAll(c)
					c.Close()
					if err != nil || string(b) != "via intproxy" {
						errs <- fmt.Errorf("connect: %q %v", b, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		fmt.Println("parallel ok")
	case "fds":
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return err
		}
		fmt.Printf("fds %d\n", len(ents))
	default:
		return fmt.Errorf("unknown probe op %q", op)
	}
	return nil
}

// le is a shorthand for the tests' byte encoding.
var le = binary.LittleEndian
