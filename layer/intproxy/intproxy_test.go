package intproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

func TestMain(m *testing.M) { agenttest.Main(m) }

// layer plays the C layer on one control connection.
type layer struct {
	t    *testing.T
	conn *net.UnixConn
}

// start runs an intproxy with s against a pod's agent and connects a layer
// that said hello as process name.
func start(t *testing.T, s settings.Settings, pod agenttest.PodOptions, name string) (*layer, *agenttest.Pod, *served) {
	t.Helper()
	p := agenttest.NewPod(t, pod)
	a := agenttest.StartAgent(t, p, agenttest.AgentOptions{})
	client := a.Client(t)
	px, err := New(Config{Settings: s, Agent: client})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "l.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sv := &served{done: make(chan struct{}), sock: sock}
	go func() {
		sv.err = px.Serve(ctx, ln)
		close(sv.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-sv.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		px.Shutdown()
	})
	return dialLayer(t, sock, name), p, sv
}

// served is the outcome of Serve.
type served struct {
	done chan struct{}
	err  error
	sock string
}

func dialLayer(t *testing.T, sock, name string) *layer {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := &layer{t: t, conn: c}
	st, body, _ := l.call(wire.NewRequest(wire.OpHello).U32(uint32(os.Getpid())).U32(1).Str(name).
		Str(name + "\x00").Str("/work").Str("/usr/bin/" + name).Str("/root").Str("/tmp"))
	if st != wire.StatusOK || len(body) < 4 {
		t.Fatalf("hello: status %d", st)
	}
	return l
}

// call sends a request and returns the status, body and a passed fd (-1).
func (l *layer) call(b *wire.Builder) (wire.Status, []byte, int) {
	l.t.Helper()
	if _, err := l.conn.Write(b.Frame()); err != nil {
		l.t.Fatal(err)
	}
	_ = l.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := l.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		l.t.Fatal(err)
	}
	fd := -1
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) == 1 {
				fd = fds[0]
			}
		}
	}
	for n < 4 || n < 4+int(binary.LittleEndian.Uint32(buf)) {
		m, err := l.conn.Read(buf[n:])
		if err != nil {
			l.t.Fatal(err)
		}
		n += m
	}
	st, body, err := wire.ParseResponse(buf[4:n])
	if err != nil {
		l.t.Fatal(err)
	}
	return st, body, fd
}

func defaults() settings.Settings {
	s := settings.Default()
	s.InternalProxy.StartIdleTimeout = settings.Duration(time.Minute)
	return s
}

func TestHelloFlagsAndSkip(t *testing.T) {
	s := defaults()
	s.SkipProcesses = []string{"skipme"}
	_, _, sv := start(t, s, agenttest.PodOptions{}, "python3")
	for _, tt := range []struct {
		name string
		skip bool
	}{{"skipme", true}, {"go", true}, {"python3", false}} {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sv.sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l := &layer{t: t, conn: c}
		st, body, _ := l.call(wire.NewRequest(wire.OpHello).U32(99).U32(1).Str(tt.name).Str("").Str("/").Str("/x").Str("/root").Str("/tmp"))
		c.Close()
		if st != wire.StatusOK || (binary.LittleEndian.Uint32(body)&wire.FlagSkip != 0) != tt.skip {
			t.Fatalf("%s: status %d flags %x, want skip=%v", tt.name, st, body[:4], tt.skip)
		}
	}
}

func TestDNSAndOutgoingThroughInterceptor(t *testing.T) {
	l, _, _ := start(t, defaults(), agenttest.PodOptions{}, "curl")
	st, body, _ := l.call(wire.NewRequest(wire.OpDNS).U8(wire.FamV4).Str(agenttest.HostsName))
	if st != wire.StatusOK {
		t.Fatalf("dns status %d", st)
	}
	// canon string, count, then the first address
	n := int(binary.LittleEndian.Uint16(body))
	addr := netip.AddrFrom4([4]byte(body[2+n+2+3 : 2+n+2+3+4]))
	if addr != agenttest.PeerIP {
		t.Fatalf("dns answered %v, want %v", addr, agenttest.PeerIP)
	}

	echo := netip.AddrPortFrom(agenttest.PodIP, agenttest.AppEchoPort)
	st, body, _ = l.call(wire.NewRequest(wire.OpConnect).U8(wire.ProtoTCP).Addr(echo))
	if st != wire.StatusOK {
		t.Fatalf("connect status %d %v", st, body)
	}
	icpt := netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[3:7])), binary.LittleEndian.Uint16(body[1:3]))
	c, err := net.DialTimeout("tcp", icpt.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("echo through the agent "), 10000)
	go func() {
		_, _ = c.Write(msg)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, err %v", len(got), err)
	}

	// a refused remote port is ECONNREFUSED, not a hang
	st, body, _ = l.call(wire.NewRequest(wire.OpConnect).U8(wire.ProtoTCP).Addr(netip.AddrPortFrom(agenttest.PodIP, 1)))
	if st != wire.StatusErrno || syscall.Errno(binary.LittleEndian.Uint32(body)) != syscall.ECONNREFUSED {
		t.Fatalf("refused connect: status %d body %v", st, body)
	}
}

func TestDNSFilterLocal(t *testing.T) {
	s := defaults()
	s.DNS.Filter.Local = []string{"local.test"}
	l, _, _ := start(t, s, agenttest.PodOptions{}, "curl")
	if st, _, _ := l.call(wire.NewRequest(wire.OpDNS).U8(0).Str("local.test")); st != wire.StatusLocal {
		t.Fatalf("filtered name: status %d, want local", st)
	}
	st, body, _ := l.call(wire.NewRequest(wire.OpDNS).U8(0).Str("nowhere.invalid"))
	if st != wire.StatusEAI || int32(binary.LittleEndian.Uint32(body)) >= 0 {
		t.Fatalf("unknown name: status %d body %v", st, body)
	}
}

func TestRemoteFileSnapshotAndWriteBack(t *testing.T) {
	s := defaults()
	s.FS.ReadWrite = []string{"^/data/"}
	l, pod, _ := start(t, s, agenttest.PodOptions{Files: map[string]string{"app/config.yaml": "remote config\n", "data/out.txt": "old"}}, "python3")

	st, body, fd := l.call(wire.NewRequest(wire.OpOpen).U32(unix.O_RDONLY).U32(0).Str("/app/config.yaml"))
	if st != wire.StatusOK || fd < 0 {
		t.Fatalf("open: status %d fd %d", st, fd)
	}
	f := os.NewFile(uintptr(fd), "snapshot")
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "remote config\n" || binary.LittleEndian.Uint64(body) != 0 {
		t.Fatalf("snapshot %q token %v", got, body)
	}
	if st, body, _ := l.call(wire.NewRequest(wire.OpOpen).U32(unix.O_RDONLY).U32(0).Str("/app/missing")); st != wire.StatusErrno || syscall.Errno(binary.LittleEndian.Uint32(body)) != syscall.ENOENT {
		t.Fatalf("missing file: status %d", st)
	}
	if st, _, _ := l.call(wire.NewRequest(wire.OpOpen).U32(unix.O_RDONLY).U32(0).Str("/usr/bin/env")); st != wire.StatusLocal {
		t.Fatalf("/usr: status %d, want local", st)
	}
	if st, _, _ := l.call(wire.NewRequest(wire.OpOpen).U32(unix.O_WRONLY | unix.O_CREAT).U32(0o644).Str("/app/new.log")); st != wire.StatusLocal {
		t.Fatalf("write in read mode: status %d, want local", st)
	}

	st, body, fd = l.call(wire.NewRequest(wire.OpOpen).U32(unix.O_RDWR | unix.O_TRUNC).U32(0).Str("/data/out.txt"))
	token := binary.LittleEndian.Uint64(body)
	if st != wire.StatusOK || fd < 0 || token == 0 {
		t.Fatalf("read_write open: status %d fd %d token %d", st, fd, token)
	}
	w := os.NewFile(uintptr(fd), "rw")
	if _, err := w.WriteString("new content"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if st, _, _ := l.call(wire.NewRequest(wire.OpCloseFile).U64(token)); st != wire.StatusOK {
		t.Fatalf("close_file: status %d", st)
	}
	if data, err := os.ReadFile(filepath.Join(pod.Root, "data/out.txt")); err != nil || string(data) != "new content" {
		t.Fatalf("written back %q, %v", data, err)
	}

	st, body, _ = l.call(wire.NewRequest(wire.OpStat).U8(1).Str("/app/config.yaml"))
	if st != wire.StatusOK || int64(binary.LittleEndian.Uint64(body[8+8+4+8+4+4+8:])) != int64(len("remote config\n")) {
		t.Fatalf("stat: status %d", st)
	}
}

func TestIdleTimeouts(t *testing.T) {
	s := defaults()
	s.InternalProxy.StartIdleTimeout = settings.Duration(300 * time.Millisecond)
	s.InternalProxy.IdleTimeout = settings.Duration(200 * time.Millisecond)
	l, _, sv := start(t, s, agenttest.PodOptions{}, "app")
	// connected: no idle exit
	select {
	case <-sv.done:
		t.Fatalf("Serve returned while a layer is connected: %v", sv.err)
	case <-time.After(time.Second):
	}
	l.conn.Close()
	select {
	case <-sv.done:
		if !errors.Is(sv.err, ErrIdle) {
			t.Fatalf("Serve returned %v, want ErrIdle", sv.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no idle exit after the last layer left")
	}
}
