package agent_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// TestOutgoingTCPEarlyData: the first bytes sent with the connect request
// (DialTCPSending) reach the target's peer ahead of the rest, in order; a
// refused connect delivers them to nobody and the stream stays usable for
// the next dial.
func TestOutgoingTCPEarlyData(t *testing.T) {
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx := testCtx(t)

	for _, size := range []int{1, 4 << 10, 64 << 10} {
		early := bytes.Repeat([]byte{'e'}, size)
		conn, err := c.DialTCPSending(ctx, "127.0.0.1:7", early)
		if err != nil {
			t.Fatalf("%d early bytes: %v", size, err)
		}
		rest := []byte("and the rest")
		if _, err := conn.Write(rest); err != nil {
			t.Fatal(err)
		}
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(early, rest...); !bytes.Equal(got, want) {
			t.Fatalf("%d early bytes: echo of %d bytes, want %d (prefix %q)", size, len(got), len(want), got[:min(len(got), 16)])
		}
		conn.Close()
	}
	if _, err := c.DialTCPSending(ctx, "127.0.0.1:1", []byte("lost")); !errors.Is(err, syscallECONNREFUSED) {
		t.Fatalf("early data to a closed port: %v, want ECONNREFUSED", err)
	}
	if _, err := c.DialTCPSending(ctx, "127.0.0.1:7", make([]byte, 64<<10+1)); err == nil {
		t.Fatal("more early bytes than the limit were accepted")
	}
}
