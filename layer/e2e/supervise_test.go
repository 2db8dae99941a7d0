package e2e

// The C layer's side of the seccomp supervisor (layer/preload/supervise.c,
// elfcheck.c), against stand-ins: a fake attach server that speaks the
// ATTACH protocol and answers the filter itself, and a fake exec wrapper
// that prints what the exec hooks handed it. launch_test.go runs the same
// paths against the real intproxy and agent.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

// gcc compiles a C program from testdata.
func gcc(t testing.TB, out string, args ...string) string {
	t.Helper()
	cmd := exec.Command("nice", append([]string{"gcc", "-O1", "-Wall", "-o", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, b)
	}
	return out
}

var svProbes struct {
	mu   sync.Mutex
	dir  string
	bins map[bool]string
}

// buildSvProbe builds testdata/svprobe, dynamically linked (cgo: the
// layer's constructor runs in it) or static; once per test process.
func buildSvProbe(t testing.TB, static bool) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the supervisor supports only linux/amd64")
	}
	svProbes.mu.Lock()
	defer svProbes.mu.Unlock()
	if bin := svProbes.bins[static]; bin != "" {
		return bin
	}
	if svProbes.dir == "" {
		// shared by the tests; TestMain removes it
		d, err := os.MkdirTemp("", "svprobe")
		if err != nil {
			t.Fatal(err)
		}
		svProbes.dir, svProbes.bins = d, map[bool]string{}
	}
	name, cgo := "svprobe-dynamic", "1"
	if static {
		name, cgo = "svprobe-static", "0"
	}
	bin := filepath.Join(svProbes.dir, name)
	cmd := exec.Command("nice", "go", "build", "-o", bin, "./testdata/svprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build svprobe: %v\n%s", err, out)
	}
	svProbes.bins[static] = bin
	return bin
}

// removeSvProbes removes the probes buildSvProbe built.
func removeSvProbes() {
	svProbes.mu.Lock()
	defer svProbes.mu.Unlock()
	if svProbes.dir != "" {
		os.RemoveAll(svProbes.dir)
	}
}

// ---- a fake attach server ------------------------------------------------

type attachMode int

const (
	attachTake      attachMode = iota // take the listener and answer getppid with 4242
	attachRefuse                      // refuse with a message
	attachNotTaken                    // read the listener number, then say no
	attachBadFilter                   // send a program the kernel refuses
	attachSilent                      // read the greeting and never answer
)

const fakePpid = 4242

// notifyFilter notifies getppid, openat and execve on x86-64.
var notifyFilter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.AUDIT_ARCH_X86_64, Jt: 0, Jf: 4},
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_GETPPID, Jt: 3},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_OPENAT, Jt: 2},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_EXECVE, Jt: 1},
	{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
}

type fakeAttach struct {
	t    testing.TB
	path string
	mode attachMode
	ln   *net.UnixListener

	mu        sync.Mutex
	pids      []int    // peers that sent a greeting
	listeners []uint32 // what they sent as their listener
	notified  int      // notifications answered
	wg        sync.WaitGroup
	stop      chan struct{}
}

func newFakeAttach(t testing.TB, mode attachMode) *fakeAttach {
	t.Helper()
	dir, err := os.MkdirTemp("", "sva")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAttach{t: t, path: filepath.Join(dir, "attach.sock"), mode: mode, stop: make(chan struct{})}
	f.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: f.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := f.ln.AcceptUnix()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				f.serveConn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(f.stop)
		f.ln.Close()
		f.wg.Wait()
		os.RemoveAll(dir)
	})
	return f
}

func (f *fakeAttach) snapshot() (pids []int, listeners []uint32, notified int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.pids...), append([]uint32(nil), f.listeners...), f.notified
}

func (f *fakeAttach) serveConn(c *net.UnixConn) {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	hello := make([]byte, 4)
	if _, err := io.ReadFull(c, hello); err != nil || string(hello) != "MSA1" {
		f.t.Errorf("attach greeting %q: %v", hello, err)
		return
	}
	pid := peerPid(f.t, c)
	f.mu.Lock()
	f.pids = append(f.pids, pid)
	f.mu.Unlock()
	var msg bytes.Buffer
	switch f.mode {
	case attachSilent:
		_, _ = io.Copy(io.Discard, c) // until the client gives up
		return
	case attachRefuse:
		text := "no supervision today"
		msg.WriteByte(1)
		_ = binary.Write(&msg, binary.LittleEndian, uint16(len(text)))
		msg.WriteString(text)
		_, _ = c.Write(msg.Bytes())
		return
	}
	prog := notifyFilter
	if f.mode == attachBadFilter {
		prog = []unix.SockFilter{{Code: 0xffff}} // no such instruction: EINVAL
	}
	msg.WriteByte(0)
	_ = binary.Write(&msg, binary.LittleEndian, uint16(len(prog)))
	for _, in := range prog {
		_ = binary.Write(&msg, binary.LittleEndian, in)
	}
	if _, err := c.Write(msg.Bytes()); err != nil {
		f.t.Errorf("send the filter: %v", err)
		return
	}
	var l uint32
	if err := binary.Read(c, binary.LittleEndian, &l); err != nil {
		f.t.Errorf("read the listener number: %v", err)
		return
	}
	f.mu.Lock()
	f.listeners = append(f.listeners, l)
	f.mu.Unlock()
	if l == 0xFFFFFFFF {
		return
	}
	if f.mode == attachNotTaken {
		_, _ = c.Write([]byte{1})
		return
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		f.t.Errorf("pidfd_open %d: %v", pid, err)
		return
	}
	listener, err := unix.PidfdGetfd(pidfd, int(l), 0)
	unix.Close(pidfd)
	if err != nil {
		f.t.Errorf("pidfd_getfd %d/%d: %v", pid, l, err)
		return
	}
	if _, err := c.Write([]byte{0}); err != nil {
		f.t.Errorf("answer the attach: %v", err)
	}
	f.answer(listener)
}

func peerPid(t testing.TB, c *net.UnixConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		t.Errorf("SO_PEERCRED: %v", err)
		return 0
	}
	return int(cred.Pid)
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// answer serves the filter: getppid returns fakePpid, anything else runs
// natively; it ends when no task uses the filter any more.
func (f *fakeAttach) answer(listener int) {
	defer unix.Close(listener)
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&unix.POLLHUP != 0 {
				return
			}
			continue
		}
		var n seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); e != 0 {
			continue
		}
		r := seccompResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		if n.Nr == unix.SYS_GETPPID {
			r = seccompResp{ID: n.ID, Val: fakePpid}
		}
		unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r)))
		f.mu.Lock()
		f.notified++
		f.mu.Unlock()
	}
}

// ---- running programs with a launch environment -------------------------

// launchEnv is an editor's launch environment around the layer, with an
// intproxy address nobody listens on (the C layer then runs its hooks
// locally and says so on stderr).
func launchEnv(t testing.TB, attachAddr, wrapper string, extra ...string) []string {
	t.Helper()
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MIRRORD_") && !strings.HasPrefix(kv, "_MIRRORD_") && !strings.HasPrefix(kv, "LD_PRELOAD=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"LD_PRELOAD="+testbin.Layer(t),
		"MIRRORD_LAYER_INTPROXY_ADDR="+filepath.Join(t.TempDir(), "no-intproxy.sock"),
		"MIRRORD_SUPERVISOR_ADDR="+attachAddr,
		"MIRRORD_LAYER_TIMEOUT_MS=3000",
	)
	if wrapper != "" {
		env = append(env, "MIRRORD_SUPERVISOR_EXEC="+wrapper)
	}
	return append(env, extra...)
}

// runIn runs args with env in dir and returns stdout, stderr and the exit code.
func runIn(t testing.TB, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v hung\nstdout: %s\nstderr: %s", args, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// processesIn lists the processes whose working directory is dir, as
// "PID EXECUTABLE".
func processesIn(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
			found = append(found, e.Name()+" "+exe)
		}
	}
	return found
}

// waitNoProcessesIn waits until no process works in dir (a drain helper
// or standby left behind would).
func waitNoProcessesIn(t testing.TB, dir string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := processesIn(dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeArgs: what svprobe prints tells whether it runs under the fake
// supervisor (getppid answered), whether its children inherited the
// marker, and that files and exec still work.
func probeArgs(file string) []string {
	return []string{"ppid", "env=MIRRORD_LAYER_SUPERVISED", "cat=" + file,
		`sh=if [ "$PPID" = ` + strconv.Itoa(fakePpid) + ` ]; then echo "fake $MIRRORD_LAYER_SUPERVISED"; else echo "real $MIRRORD_LAYER_SUPERVISED"; fi`}
}

func probeWant(ppid int, supervised, file, content string) string {
	child := "real"
	if ppid == fakePpid {
		child = "fake"
	}
	return strings.Join([]string{
		fmt.Sprintf("ppid %d", ppid),
		"env MIRRORD_LAYER_SUPERVISED " + supervised,
		fmt.Sprintf("cat %q", content),
		fmt.Sprintf("sh %q", child+" "+supervised+"\n"),
	}, "\n") + "\n"
}

// TestConstructorAttachesGoProgram: a dynamically linked Go program
// started with the layer attaches itself to the supervisor from the
// layer's constructor; the filter is in place (the fake supervisor
// answers its getppid, and its shell child's), the C layer stays inert in
// it and in its children (no intproxy hello: no warning), and children
// inherit MIRRORD_LAYER_SUPERVISED=1 through Go's own environment.
func TestConstructorAttachesGoProgram(t *testing.T) {
	bin := buildSvProbe(t, false)
	srv := newFakeAttach(t, attachTake)
	dir := t.TempDir()
	file := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(file, []byte("local data"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runIn(t, dir, launchEnv(t, srv.path, testbin.Mirrord(t)), append([]string{bin}, probeArgs(file)...)...)
	if want := probeWant(fakePpid, "1", file, "local data"); code != 0 || out != want {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	if errOut != "" {
		t.Fatalf("the layer was not inert (stderr %q)", errOut)
	}
	pids, ls, notified := srv.snapshot()
	if len(pids) != 1 || len(ls) != 1 || notified == 0 {
		t.Fatalf("attaches %v, listeners %v, notifications %d: want one attach of the Go program", pids, ls, notified)
	}
	waitNoProcessesIn(t, dir) // the standby helper went away
}

// TestConstructorAttachModes: the cases where the constructor must not
// attach, or attach fails, and what the program does then.
func TestConstructorAttachModes(t *testing.T) {
	bin := buildSvProbe(t, false)
	mirrord := testbin.Mirrord(t)
	myPid := os.Getpid()
	tests := []struct {
		name       string
		mode       attachMode
		extra      []string
		wrapper    string
		argv       func(file string) []string
		want       func(file string) string
		attaches   int
		stderrHas  []string
		stderrNot  []string
		listenerFF bool   // the client said the install failed
		supervised string // what the program sees of MIRRORD_LAYER_SUPERVISED
		drainedBy  string // the drain helper's executable ("" for none)
	}{
		{name: "refused: the C layer goes on", mode: attachRefuse, attaches: 1,
			stderrHas: []string{"refused this process", "no supervision today", "cannot reach the intproxy"}},
		{name: "not taken: drained by the mirrord binary", mode: attachNotTaken, wrapper: mirrord, attaches: 1,
			drainedBy: mirrord, stderrHas: []string{"the supervisor did not take this process; it runs without mirrord"}},
		{name: "not taken: drained by the layer", mode: attachNotTaken, attaches: 1,
			drainedBy: bin, stderrHas: []string{"the supervisor did not take this process; it runs without mirrord"}},
		{name: "filter refused by the kernel", mode: attachBadFilter, attaches: 1, listenerFF: true,
			stderrHas: []string{"seccomp filter", "cannot reach the intproxy"}},
		{name: "silent supervisor times out", mode: attachSilent, attaches: 1,
			extra:     []string{"MIRRORD_LAYER_TIMEOUT_MS=500"},
			stderrHas: []string{"cannot reach the supervisor", "cannot reach the intproxy"}},
		{name: "mode preload never attaches", mode: attachTake, extra: []string{"MIRRORD_LAYER_MODE=preload"},
			stderrHas: []string{"cannot reach the intproxy"}},
		{name: "already supervised: inert", mode: attachTake, extra: []string{"MIRRORD_LAYER_SUPERVISED=1"},
			supervised: "1", stderrNot: []string{"cannot reach the intproxy"}},
		{name: "the mirrord binary (the wrapper) is never attached", mode: attachTake, wrapper: bin,
			stderrHas: []string{"cannot reach the intproxy"}},
		{name: "a dynamic C program in mode auto stays with the C layer", mode: attachTake,
			argv: func(string) []string { return []string{"sh", "-c", `echo "$PPID"`} },
			want: func(string) string { return fmt.Sprintf("%d\n", myPid) }},
		{name: "a dynamic C program in mode supervisor attaches", mode: attachTake, attaches: 1,
			extra: []string{"MIRRORD_LAYER_MODE=supervisor"},
			argv:  func(string) []string { return []string{"sh", "-c", `echo "$PPID $MIRRORD_LAYER_SUPERVISED"`} },
			want:  func(string) string { return fmt.Sprintf("%d 1\n", fakePpid) }, stderrNot: []string{"intproxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeAttach(t, tt.mode)
			dir := t.TempDir()
			file := filepath.Join(dir, "data.txt")
			if err := os.WriteFile(file, []byte("local data"), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := append([]string{bin}, probeArgs(file)...)
			if tt.argv != nil {
				argv = tt.argv(file)
			}
			want := probeWant(myPid, tt.supervised, file, "local data")
			if tt.want != nil {
				want = tt.want(file)
			}
			// while the program sleeps, the drain helper answers its filter
			var seen []string
			stopWatch := make(chan struct{})
			watched := make(chan struct{})
			if tt.drainedBy != "" {
				argv = append(argv, "sh=sleep 1")
				want += "sh \"\"\n"
				go func() {
					defer close(watched)
					for {
						select {
						case <-stopWatch:
							return
						case <-time.After(20 * time.Millisecond):
						}
						if ps := processesIn(dir); len(ps) > len(seen) {
							seen = ps
						}
					}
				}()
			} else {
				close(watched)
			}
			env := launchEnv(t, srv.path, tt.wrapper, tt.extra...)
			start := time.Now()
			out, errOut, code := runIn(t, dir, env, argv...)
			close(stopWatch)
			<-watched
			if tt.drainedBy != "" {
				exe, _ := filepath.EvalSymlinks(tt.drainedBy)
				n := 0
				for _, p := range seen {
					if strings.HasSuffix(p, " "+exe) {
						n++
					}
				}
				// a helper drained by the layer is a second copy of the program
				if want := map[bool]int{true: 2, false: 1}[tt.drainedBy == bin]; n < want {
					t.Errorf("no drain helper running %s among %v", exe, seen)
				}
			}
			if code != 0 || out != want {
				t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %s", s, errOut)
				}
			}
			for _, s := range tt.stderrNot {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr has %q: %s", s, errOut)
				}
			}
			pids, ls, _ := srv.snapshot()
			if len(pids) != tt.attaches {
				t.Errorf("%d attaches, want %d", len(pids), tt.attaches)
			}
			if tt.listenerFF && (len(ls) != 1 || ls[0] != 0xFFFFFFFF) {
				t.Errorf("listeners %v: want the install failure 0xFFFFFFFF", ls)
			}
			if tt.mode == attachSilent && time.Since(start) > 20*time.Second {
				t.Errorf("took %v with a 500 ms timeout", time.Since(start))
			}
			// the drain helper ends with the last process under the
			// filter; a standby ends at once
			waitNoProcessesIn(t, dir)
		})
	}
}

// ---- exec hooks ----------------------------------------------------------

type execFixture struct {
	dir                    string
	wrapper                string
	static, dynamic, goBin string // static C, dynamic C, static Go
	variants               string
	noexec                 string
}

func newExecFixture(t *testing.T) *execFixture {
	t.Helper()
	dir := t.TempDir()
	f := &execFixture{dir: dir}
	hello := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(hello, []byte(`#include <stdio.h>
int main(int argc, char **argv) { printf("hello %s\n", argc > 1 ? argv[1] : "-"); return 0; }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	f.static = gcc(t, filepath.Join(dir, "shello"), "-static", hello)
	f.dynamic = gcc(t, filepath.Join(dir, "dhello"), hello)
	f.wrapper = gcc(t, filepath.Join(dir, "fakewrapper"), "testdata/fakewrapper.c")
	f.variants = gcc(t, filepath.Join(dir, "execvariants"), "testdata/execvariants.c")
	f.goBin = buildSvProbe(t, true)
	f.noexec = filepath.Join(dir, "noexec")
	b, err := os.ReadFile(f.static)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.noexec, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *execFixture) env(t testing.TB, extra ...string) []string {
	env := launchEnv(t, filepath.Join(f.dir, "attach.sock"), f.wrapper, extra...)
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + f.dir + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	return env
}

func wrapped(target string, argv ...string) string {
	return fmt.Sprintf("wrapper attach=%s count=1 argv [%s]\n", target, strings.Join(argv, "] ["))
}

// TestExecHooksHandProgramsToWrapper: every libc exec entry point (and
// sh, python's subprocess with its vfork, a C vfork) hands a static or Go
// program to MIRRORD_SUPERVISOR_EXEC with _MIRRORD_SUPERVISOR_ATTACH=<the
// resolved absolute target> and the original argv; a dynamic C program
// runs as asked.
func TestExecHooksHandProgramsToWrapper(t *testing.T) {
	f := newExecFixture(t)
	env := f.env(t)
	for _, v := range []string{"execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "posix_spawn", "posix_spawnp", "vfork"} {
		prog := f.static
		if strings.HasSuffix(v, "p") || strings.HasSuffix(v, "pe") {
			prog = "shello" // found in PATH
		}
		out, errOut, code := runIn(t, f.dir, env, f.variants, v, prog, "arg1")
		if want := wrapped(f.static, prog, "arg1"); code != 0 || out != want {
			t.Errorf("%s %s: exit %d, got %q, want %q (stderr %s)", v, prog, code, out, want, errOut)
		}
		dprog := f.dynamic
		if prog == "shello" {
			dprog = "dhello"
		}
		if out, _, code := runIn(t, f.dir, env, f.variants, v, dprog, "arg1"); code != 0 || out != "hello arg1\n" {
			t.Errorf("%s %s (dynamic C): exit %d, got %q", v, dprog, code, out)
		}
	}
	cases := []struct {
		name string
		argv []string
		want string
	}{
		{"sh -c static C", []string{"sh", "-c", "shello a; echo done"}, wrapped(f.static, "shello", "a") + "done\n"},
		{"sh -c static Go", []string{"sh", "-c", f.goBin + " ppid"}, wrapped(f.goBin, f.goBin, "ppid")},
		{"sh -c relative path", []string{"sh", "-c", "./shello rel"}, wrapped(f.static, "./shello", "rel")},
		{"python subprocess", []string{"python3", "-c",
			`import subprocess; subprocess.run(["shello", "py"]); subprocess.run(["dhello", "py"])`},
			wrapped(f.static, "shello", "py") + "hello py\n"},
		{"python os.execv", []string{"python3", "-c", `import os; os.execv("` + f.static + `", ["x", "y"])`},
			wrapped(f.static, "x", "y")},
	}
	for _, c := range cases {
		out, errOut, code := runIn(t, f.dir, env, c.argv...)
		if code != 0 || out != c.want {
			t.Errorf("%s: exit %d, got %q, want %q (stderr %s)", c.name, code, out, c.want, errOut)
		}
	}
	// an empty PATH element is the working directory, as for execvp
	pathEnv := append(f.env(t), "PATH=:/usr/bin:/bin")
	if out, _, _ := runIn(t, f.dir, pathEnv, f.variants, "execvp", "shello", "cwd"); out != wrapped(f.static, "shello", "cwd") {
		t.Errorf("execvp through an empty PATH element: %q", out)
	}
	// an inherited _MIRRORD_SUPERVISOR_ATTACH is replaced, not doubled
	// (a process that has one itself is the wrapper: its layer is inert)
	if out, _, _ := runIn(t, f.dir, env, "python3", "-c", `import os; os.execve("`+f.static+`", ["s"], {**os.environ, "_MIRRORD_SUPERVISOR_ATTACH": "/stale"})`); out != wrapped(f.static, "s") {
		t.Errorf("with a stale attach variable: %q", out)
	}
}

// TestExecHooksLeaveProgramsAlone: no rewriting in mode preload, in a
// supervised tree, without the wrapper's or the supervisor's variable;
// a wrapper that cannot run falls back to the program; failures keep the
// real function's errno.
func TestExecHooksLeaveProgramsAlone(t *testing.T) {
	f := newExecFixture(t)
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"mode preload", f.env(t, "MIRRORD_LAYER_MODE=preload")},
		{"supervised", f.env(t, "MIRRORD_LAYER_SUPERVISED=1")},
		{"wrapper missing", f.env(t, "MIRRORD_SUPERVISOR_EXEC="+filepath.Join(f.dir, "missing"))},
		{"wrapper not absolute", f.env(t, "MIRRORD_SUPERVISOR_EXEC=fakewrapper")},
		{"no supervisor address", f.env(t, "MIRRORD_SUPERVISOR_ADDR=")},
	} {
		for _, v := range []string{"execve", "execvp", "posix_spawn", "posix_spawnp"} {
			prog := f.static
			if strings.HasSuffix(v, "p") {
				prog = "shello"
			}
			if out, errOut, code := runIn(t, f.dir, c.env, f.variants, v, prog, "alone"); code != 0 || out != "hello alone\n" {
				t.Errorf("%s, %s: exit %d, got %q (stderr %s)", c.name, v, code, out, errOut)
			}
		}
		if out, _, _ := runIn(t, f.dir, c.env, "sh", "-c", "shello sh"); out != "hello sh\n" {
			t.Errorf("%s, sh -c: got %q", c.name, out)
		}
	}
	env := f.env(t)
	for _, v := range []string{"execve", "execvp", "vfork"} {
		// a static program without execute permission fails with EACCES and
		// a missing one with ENOENT, as without the layer (the vfork
		// child exits 99 when its execve fails)
		for file, want := range map[string]string{f.noexec: "errno EACCES\n", filepath.Join(f.dir, "nothing"): "errno ENOENT\n"} {
			if v == "vfork" {
				want = ""
			}
			if out, _, code := runIn(t, f.dir, env, f.variants, v, file); code != 99 || out != want {
				t.Errorf("%s of %s: exit %d, %q, want %q", v, file, code, out, want)
			}
		}
	}
	if out, _, _ := runIn(t, f.dir, env, f.variants, "posix_spawnp", "no-such-program"); out != "errno ENOENT\n" {
		t.Errorf("posix_spawnp of a missing program: %q", out)
	}
	// the wrapper itself is never wrapped (it is a Go program too), also
	// when named through a symlink
	link := filepath.Join(f.dir, "wrapper-link")
	if err := os.Symlink(f.goBin, link); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{f.goBin, link} {
		self := f.env(t, "MIRRORD_SUPERVISOR_EXEC="+w)
		if out, _, _ := runIn(t, f.dir, self, f.variants, "execv", f.goBin, "env=_MIRRORD_SUPERVISOR_ATTACH"); out != "env _MIRRORD_SUPERVISOR_ATTACH \n" {
			t.Errorf("exec of the wrapper itself (%s): %q", w, out)
		}
	}
}

// ---- needs_supervisor on malformed files ---------------------------------

// TestNeedsSupervisorMalformedELF runs ml_needs_supervisor (elfcheck.c,
// built with ASan and UBSan) over real programs, then over thousands of
// truncated, corrupted and random ELF files: the real ones get the right
// answer, and nothing crashes, reads out of bounds or hangs.
func TestNeedsSupervisorMalformedELF(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86-64 only")
	}
	dir := t.TempDir()
	drv := filepath.Join(dir, "elfcheck")
	cmd := exec.Command("nice", "gcc", "-O1", "-g", "-Wall", "-Werror", "-fsanitize=address,undefined",
		"-fno-sanitize-recover=all", "-o", drv, "testdata/elfcheck_main.c", "../preload/elfcheck.c")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	hello := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(hello, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := gcc(t, filepath.Join(dir, "static"), "-static", hello)
	staticPie := gcc(t, filepath.Join(dir, "static-pie"), "-static-pie", hello)
	dynamic := gcc(t, filepath.Join(dir, "dynamic"), hello)
	goStatic, goDynamic := buildSvProbe(t, true), buildSvProbe(t, false)
	script := filepath.Join(dir, "script.sh")
	empty := filepath.Join(dir, "empty")
	fifo := filepath.Join(dir, "fifo")
	for p, b := range map[string]string{script: "#!/bin/sh\necho\n", empty: ""} {
		if err := os.WriteFile(p, []byte(b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	shell, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		static: 1, staticPie: 1, goStatic: 1, goDynamic: 1, // no PT_INTERP, or Go
		dynamic: 0, shell: 0, script: 0, empty: 0, fifo: 0, dir: 0, "/dev/null": 0,
		filepath.Join(dir, "missing"): 0, "": 0,
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	got := runElfcheck(t, drv, paths)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("needs_supervisor(%q) = %d, want %d", p, got[p], w)
		}
	}

	// Mutants of real programs: truncations, header fields set to edge
	// values, random bytes in the headers, random files with a valid
	// ELF ident.
	rng := rand.New(rand.NewSource(1))
	mdir := filepath.Join(dir, "m")
	if err := os.Mkdir(mdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var mutants []string
	add := func(b []byte) {
		p := filepath.Join(mdir, strconv.Itoa(len(mutants)))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mutants = append(mutants, p)
	}
	edge64 := []uint64{0, 1, 63, 64, 0x7fffffff, 0xffffffff, 1 << 62, 1<<63 - 1, 1 << 63, ^uint64(0), ^uint64(0) - 13}
	edge16 := []uint16{0, 1, 2, 0x7fff, 0xff00, 0xfffe, 0xffff}
	for _, base := range []string{static, dynamic, goDynamic} {
		orig, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		size := len(orig)
		le := binary.LittleEndian
		phoff, shoff := le.Uint64(orig[32:]), le.Uint64(orig[40:])
		shnum, strndx := le.Uint16(orig[60:]), le.Uint16(orig[62:])
		strHdr := int(shoff) + int(strndx)*64
		strOff := int(le.Uint64(orig[strHdr+24:]))
		// truncations: every length through the headers, then around
		// each table
		cuts := []int{}
		for i := 0; i <= 130; i++ {
			cuts = append(cuts, i)
		}
		for _, at := range []int{int(phoff), int(shoff), strHdr, strOff, size} {
			for d := -70; d <= 70; d += 7 {
				cuts = append(cuts, at+d)
			}
		}
		for _, c := range cuts {
			if c >= 0 && c < size {
				add(orig[:c])
			}
		}
		// the file without its first section headers' worth of bytes
		// at the end (names read past EOF)
		mut := func(f func(b []byte)) {
			b := append([]byte(nil), orig...)
			f(b)
			add(b)
		}
		for _, v := range edge64 {
			for _, off := range []int{32, 40} { // e_phoff, e_shoff
				mut(func(b []byte) { le.PutUint64(b[off:], v) })
			}
			for _, field := range []int{24, 32} { // the string table's sh_offset, sh_size
				mut(func(b []byte) { le.PutUint64(b[strHdr+field:], v) })
			}
			mut(func(b []byte) { le.PutUint64(b[shoff+32:], v) }) // section 0's sh_size (extended count)
		}
		for _, v := range edge16 {
			for _, off := range []int{54, 56, 58, 60, 62} { // phentsize, phnum, shentsize, shnum, shstrndx
				mut(func(b []byte) { le.PutUint16(b[off:], v) })
			}
		}
		// extended numbering with wild values in section 0
		for _, v := range []uint32{0, 1, uint32(shnum), 0xffff, 0xffffffff} {
			mut(func(b []byte) {
				le.PutUint16(b[60:], 0)
				le.PutUint16(b[62:], 0xffff)
				le.PutUint32(b[shoff+40:], v) // sh_link
			})
		}
		// every section's name offset at the string table's edges
		for _, v := range []uint32{0xffffffff, 0x7fffffff, uint32(le.Uint64(orig[strHdr+32:])) - 1, uint32(le.Uint64(orig[strHdr+32:])) - 13} {
			mut(func(b []byte) {
				for i := 0; i < int(shnum); i++ {
					le.PutUint32(b[int(shoff)+i*64:], v)
				}
			})
		}
		// a string table reaching the end of the file (longer than the
		// layer reads at once) with names across that boundary
		for _, v := range []uint32{2030, 2034, 2040, 2047, 2048, 4000} {
			mut(func(b []byte) {
				le.PutUint64(b[strHdr+32:], uint64(size-strOff))
				for i := 0; i < int(shnum); i++ {
					le.PutUint32(b[int(shoff)+i*64:], v)
				}
			})
		}
		// random bytes in the ELF header, the program headers, the
		// section headers and the section names
		regions := [][2]int{{16, 64}, {int(phoff), int(phoff) + 56*8}, {int(shoff), size}, {strOff, strOff + 256}}
		for i := 0; i < 300; i++ {
			mut(func(b []byte) {
				r := regions[rng.Intn(len(regions))]
				for k := 0; k < 1+rng.Intn(8); k++ {
					if at := r[0] + rng.Intn(r[1]-r[0]); at < len(b) {
						b[at] = byte(rng.Intn(256))
					}
				}
			})
		}
	}
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.Intn(4096))
		rng.Read(b)
		if len(b) >= 20 {
			copy(b, "\x7fELF\x02\x01\x01")
			b[18], b[19] = 62, 0 // x86-64
		}
		add(b)
	}
	res := runElfcheck(t, drv, mutants)
	if len(res) != len(mutants) {
		t.Fatalf("%d answers for %d mutants", len(res), len(mutants))
	}
	yes := 0
	for _, v := range res {
		yes += v
	}
	t.Logf("%d mutants, %d said to need the supervisor", len(mutants), yes)
}

// runElfcheck runs the driver over paths in batches and returns each answer.
func runElfcheck(t testing.TB, drv string, paths []string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for len(paths) > 0 {
		n := min(len(paths), 400)
		batch := paths[:n]
		paths = paths[n:]
		cmd := exec.Command(drv, batch...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("elfcheck crashed: %v\n%s\n(last output %q)", err, errb.String(), tail(out.String()))
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("elfcheck hung (after %q)", tail(out.String()))
		}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			v, p, _ := strings.Cut(sc.Text(), " ")
			got[p], _ = strconv.Atoi(v)
		}
	}
	return got
}

func tail(s string) string {
	if len(s) > 200 {
		return s[len(s)-200:]
	}
	return s
}
