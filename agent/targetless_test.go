package agent_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// A targetless agent needs no privileges: its own namespace, a given root.
func TestTargetless(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.9 svc.local\n"), 0o644))
	a := agenttest.StartAgent(t, nil, agenttest.AgentOptions{Args: []string{"targetless", "--root", root}})
	c := a.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	env, err := c.Env(ctx, protocol.EnvRequest{Include: []string{"PATH"}})
	if err != nil || env["PATH"] == "" {
		t.Fatalf("env = %v, %v", env, err)
	}
	addrs, err := c.LookupHost(ctx, "svc.local", protocol.FamilyAny)
	if err != nil || len(addrs) != 1 || addrs[0].String() != "127.0.0.9" {
		t.Fatalf("lookup = %v, %v", addrs, err)
	}
	data, _, err := c.ReadFile(ctx, "/etc/hosts", 0)
	if err != nil || string(data) != "127.0.0.9 svc.local\n" {
		t.Fatalf("read = %q, %v", data, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(conn, conn)
		conn.Close()
	}()
	conn, err := c.DialTCP(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("ping"))
	conn.CloseWrite()
	if got, err := io.ReadAll(conn); err != nil || string(got) != "ping" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	// Reading a file larger than the limit says so.
	must(t, os.WriteFile(filepath.Join(root, "big"), make([]byte, 100), 0o644))
	if _, _, err := c.ReadFile(ctx, "/big", 10); err == nil {
		t.Fatal("read_file over its limit succeeded")
	}
}
