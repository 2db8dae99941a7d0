package supervisor

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runWrapped runs this test binary as the exec wrapper for itself (the
// C layer's exec hooks do the same with the mirrord binary): the wrapper
// attaches to addr and execve's the probe with args.
func runWrapped(t *testing.T, addr string, args ...string) (stdout, stderr string, pid int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envProbe+"=1", envAttach+"="+self, EnvAttachAddr+"="+addr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the wrapped probe hung\nstdout: %s\nstderr: %s", out.String(), errb.String())
	}
	if err != nil {
		t.Fatalf("wrapped probe: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	return out.String(), errb.String(), cmd.Process.Pid
}

// newAttachServer serves attaches on a fresh socket, for a fake intproxy.
func newAttachServer(t *testing.T) (*AttachServer, string) {
	t.Helper()
	f := newFakeIntproxy(t)
	sock := filepath.Join(t.TempDir(), "attach.sock")
	a, err := ServeAttach(sock, Config{Intproxy: f.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, sock
}

// TestAttachExecWrapper: the exec wrapper attaches itself and becomes the
// program — same process id, argv and environment plus the marker — which
// the attach server's supervisor then serves: a remote path is the
// intproxy's, a local one is native.
func TestAttachExecWrapper(t *testing.T) {
	a, sock := newAttachServer(t)
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("attach socket %v: mode %v, want no access for others", err, st.Mode())
	}
	out, errOut, pid := runWrapped(t, sock, "pid", "env="+EnvSupervised, "env="+envAttach, "cat=/remote/a", "cat=/proc/self/comm")
	for _, want := range []string{
		"pid " + strconv.Itoa(pid) + "\n",
		"env " + EnvSupervised + "=1\n",
		"env " + envAttach + "=\n",
		"cat remote:/remote/a\n",
		"cat " + filepath.Base(os.Args[0])[:min(15, len(filepath.Base(os.Args[0])))] + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in the probe's output:\n%s\nstderr: %s", want, out, errOut)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Supervising() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.Supervising(); n != 0 {
		t.Errorf("%d supervisors left after the program exited", n)
	}
}

// TestAttachWithoutServer: no attach server — the program runs natively,
// with a warning, and without the marker.
func TestAttachWithoutServer(t *testing.T) {
	out, errOut, _ := runWrapped(t, filepath.Join(t.TempDir(), "none.sock"), "env="+EnvSupervised, "cat=/remote/a")
	if !strings.Contains(out, "env "+EnvSupervised+"=\n") || !strings.Contains(out, "cat: error open /remote/a: no such file or directory") {
		t.Errorf("probe output:\n%s", out)
	}
	if !strings.Contains(errOut, "runs without mirrord") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
}

// TestAttachServerGoneAfterInstall: the server sends the filter and goes
// away before taking the listener — the program's calls must not wait
// forever: the drain helper continues them natively.
func TestAttachServerGoneAfterInstall(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "attach.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var magic [4]byte
		if _, err := io.ReadFull(c, magic[:]); err != nil {
			return
		}
		_, _ = c.Write(filterMessage(buildFilter(auditArch, notified, notifiedWithAddr)))
		var fd [4]byte
		_, _ = io.ReadFull(c, fd[:]) // and close without an answer
	}()
	out, errOut, _ := runWrapped(t, sock, "cat=/remote/a", "stat=/proc/self/stat")
	if !strings.Contains(out, "cat: error open /remote/a: no such file or directory") || !strings.Contains(out, "stat 0 ") {
		t.Errorf("probe output:\n%s\nstderr: %s", out, errOut)
	}
	if !strings.Contains(errOut, "unsupervised (calls run natively)") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
}

// TestAttachRejectsOtherFDs: a client that names an fd that is not a
// seccomp listener gets no supervisor.
func TestAttachRejectsOtherFDs(t *testing.T) {
	a, sock := newAttachServer(t)
	for _, req := range [][]byte{
		[]byte("MSA1\x01\x00\x00\x00"),      // fd 1: not a listener
		[]byte("MSA1\xff\xff\xff\xff"),      // no filter installed
		[]byte("XXXX"),                      // not the protocol
		[]byte("MSA1\x00\x10\x00\x00"),      // a closed fd
		bytes.Repeat([]byte("MSA1"), 1)[:2], // cut short
	} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req[:min(4, len(req))]); err != nil {
			t.Fatal(err)
		}
		if len(req) < 4 {
			c.(*net.UnixConn).CloseWrite()
		}
		var head [3]byte
		if string(req[:min(4, len(req))]) == attachMagic {
			if _, err := io.ReadFull(c, head[:]); err != nil || head[0] != 0 {
				t.Fatalf("%q: no filter: %v %v", req, err, head)
			}
			prog := make([]byte, 8*int(binary.LittleEndian.Uint16(head[1:])))
			if _, err := io.ReadFull(c, prog); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(req[4:]); err != nil {
				t.Fatal(err)
			}
		}
		rest, _ := io.ReadAll(c)
		if len(rest) == 1 && rest[0] == 0 {
			t.Errorf("%q: the server acknowledged", req)
		}
		c.Close()
	}
	if n := a.Supervising(); n != 0 {
		t.Errorf("%d supervisors", n)
	}
}
