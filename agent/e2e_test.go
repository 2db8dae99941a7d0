package agent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

func TestMain(m *testing.M) { agenttest.Main(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnv(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: map[string]string{"APP_SECRET": "s3cret", "APP_MODE": "prod", "OTHER": "x"}})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	tests := []struct {
		name string
		req  protocol.EnvRequest
		want map[string]string
	}{
		{"include glob", protocol.EnvRequest{Include: []string{"APP_*"}}, map[string]string{"APP_SECRET": "s3cret", "APP_MODE": "prod"}},
		{"exclude", protocol.EnvRequest{Include: []string{"APP_*", "OTHER"}, Exclude: []string{"*SECRET"}}, map[string]string{"APP_MODE": "prod", "OTHER": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Env(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := c.Env(ctx, protocol.EnvRequest{Include: []string{"[A-"}}); err == nil {
		t.Fatal("bad pattern accepted")
	}
}

func TestDNS(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)
	tests := []struct {
		host    string
		family  protocol.Family
		want    []netip.Addr
		wantEAI int
	}{
		{agenttest.HostsName, protocol.FamilyAny, []netip.Addr{agenttest.PeerIP}, 0},
		{strings.ToUpper(agenttest.HostsName), protocol.FamilyIPv4, []netip.Addr{agenttest.PeerIP}, 0},
		// Only the DNS server inside the target namespace knows this name;
		// "db" reaches it through the search domain of the pod's resolv.conf.
		{agenttest.AppDNSName, protocol.FamilyIPv4, []netip.Addr{agenttest.PeerIP}, 0},
		{"db", protocol.FamilyIPv4, []netip.Addr{agenttest.PeerIP}, 0},
		{"missing.cluster.test.", protocol.FamilyIPv4, nil, protocol.EAINoName},
		{agenttest.AppDNSName, protocol.FamilyIPv6, nil, protocol.EAINoData},
		{"bad..name", protocol.FamilyAny, nil, protocol.EAINoName},
		{"10.1.2.3", protocol.FamilyAny, []netip.Addr{netip.MustParseAddr("10.1.2.3")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+string(tt.family), func(t *testing.T) {
			got, err := c.LookupHost(ctx, tt.host, tt.family)
			if tt.wantEAI != 0 {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.CodeDNS || pe.EAI != tt.wantEAI {
					t.Fatalf("got %v, %v; want EAI %d", got, err, tt.wantEAI)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutgoingTCP(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)

	for _, addr := range []string{"127.0.0.1:7", agenttest.PodIP.String() + ":7"} {
		conn, err := c.DialTCP(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if conn.Remote != addr {
			t.Errorf("remote = %q, want %q", conn.Remote, addr)
		}
		// The socket lives in the target namespace: its local address is
		// one the host does not have.
		local, err := netip.ParseAddrPort(conn.Local)
		if err != nil || local.Addr().String() != strings.Split(addr, ":")[0] {
			t.Errorf("local = %q, want an address of the pod", conn.Local)
		}
		msg := []byte("hello through the agent " + addr)
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo = %q, want %q", got, msg)
		}
		conn.Close()
	}
	// Refused and bad addresses are clear errors.
	_, err := c.DialTCP(ctx, "127.0.0.1:1")
	if !errors.Is(err, syscallECONNREFUSED) {
		t.Fatalf("dial closed port: %v, want ECONNREFUSED", err)
	}
	var pe *protocol.Error
	if _, err := c.DialTCP(ctx, "example.com:80"); !errors.As(err, &pe) || pe.Code != protocol.CodeBadRequest {
		t.Fatalf("dial by name: %v, want bad_request", err)
	}
}

func TestOutgoingUDPAndUnix(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)

	pc, err := c.DialUDP(ctx, "127.0.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	buf := make([]byte, protocol.MaxDatagramSize)
	for _, msg := range []string{"one", "two", strings.Repeat("x", 30000)} {
		if err := pc.WriteDatagram([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		n, err := pc.ReadDatagram(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != msg {
			t.Fatalf("udp echo = %d bytes, want %d", n, len(msg))
		}
	}

	uc, err := c.DialUnix(ctx, "/"+agenttest.AppSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.Write([]byte("unix hello"))
	uc.CloseWrite()
	got, err := io.ReadAll(uc)
	if err != nil || string(got) != "unix hello" {
		t.Fatalf("unix echo = %q, %v", got, err)
	}
	if _, err := c.DialUnix(ctx, "/../../"+agenttest.AppSocket); err == nil {
		t.Fatal("unix path escaping the root accepted")
	}
}

func TestFiles(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{Files: map[string]string{
		"srv/config.yaml": "only: in the target root\n",
	}})
	// Symlinks that try to leave the root.
	must(t, os.Symlink("/etc/os-release", filepath.Join(pod.Root, "srv/abs-link")))
	must(t, os.Symlink("../../../../../../etc/os-release", filepath.Join(pod.Root, "srv/rel-link")))
	must(t, os.Symlink("config.yaml", filepath.Join(pod.Root, "srv/good-link")))
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)

	data, st, err := c.ReadFile(ctx, "/srv/config.yaml", 0)
	if err != nil || string(data) != "only: in the target root\n" || st.Size != int64(len(data)) {
		t.Fatalf("read_file = %q, %+v, %v", data, st, err)
	}
	if data, _, err := c.ReadFile(ctx, "/srv/good-link", 0); err != nil || !strings.HasPrefix(string(data), "only:") {
		t.Fatalf("read through symlink = %q, %v", data, err)
	}
	if target, err := c.ReadLink(ctx, "/srv/abs-link"); err != nil || target != "/etc/os-release" {
		t.Fatalf("readlink = %q, %v", target, err)
	}

	// Escapes: lexical ".." is refused; symlinks resolve inside the root,
	// where /etc/os-release does not exist.
	escapes := []struct {
		path string
		code protocol.ErrorCode
	}{
		{"/../etc/os-release", protocol.CodeForbidden},
		{"../../../../etc/os-release", protocol.CodeForbidden},
		{"/srv/../../etc/os-release", protocol.CodeForbidden},
		{"/srv/abs-link", protocol.CodeIO},
		{"/srv/rel-link", protocol.CodeIO},
	}
	for _, e := range escapes {
		_, _, err := c.ReadFile(ctx, e.path, 0)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != e.code {
			t.Errorf("read %s: %v, want code %s", e.path, err, e.code)
		}
		if e.code == protocol.CodeIO && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("read %s: %v, want not-exist inside the root", e.path, err)
		}
	}

	// A read-write round: mkdir, open, write, seek, read, stat, rename,
	// readdir, unlink.
	must(t, c.Mkdir(ctx, "/data", 0o755))
	f, err := c.OpenFile(ctx, "/data/a.txt", protocol.ORdwr|protocol.OCreat|protocol.OTrunc, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	if off, err := f.Seek(6, io.SeekStart); err != nil || off != 6 {
		t.Fatalf("seek = %d, %v", off, err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != "world" {
		t.Fatalf("read = %q, %v", buf, err)
	}
	if n, err := f.ReadAt(buf, 0); err != nil || n != 5 || string(buf) != "hello" {
		t.Fatalf("pread = %q, %v", buf, err)
	}
	fst, err := f.Stat()
	if err != nil || fst.Size != 11 || fst.Mode&0o777 != 0o600 {
		t.Fatalf("fstat = %+v, %v", fst, err)
	}
	must(t, f.Close())
	if got, err := os.ReadFile(filepath.Join(pod.Root, "data/a.txt")); err != nil || string(got) != "hello world" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	must(t, c.Rename(ctx, "/data/a.txt", "/data/b.txt"))
	entries, err := c.ReadDir(ctx, "/data")
	if err != nil || len(entries) != 1 || entries[0].Name != "b.txt" {
		t.Fatalf("readdir = %+v, %v", entries, err)
	}
	must(t, c.Unlink(ctx, "/data/b.txt"))
	must(t, c.Rmdir(ctx, "/data"))
	if _, err := c.Stat(ctx, "/data"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat removed dir: %v", err)
	}
	if _, err := c.OpenFile(ctx, "/../outside.txt", protocol.OWronly|protocol.OCreat, 0o644); err == nil {
		t.Fatal("create outside the root accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
