package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// BenchmarkRelay compares, side by side in one run, a TCP connection to a
// server in the target namespace:
//
//   - direct: the benchmark's own socket inside the namespace (no relay);
//   - socat: through a socat relay inside the namespace (one relay hop);
//   - agent: through the agent (client -> agent -> server: one relay hop,
//     plus the multiplexer).
//
// "throughput" streams 64 KiB writes into a sink; "rtt" is a one-byte
// echo round trip.
func BenchmarkRelay(b *testing.B) {
	pod := agenttest.NewPod(b, agenttest.PodOptions{})
	a := agenttest.StartAgent(b, pod, agenttest.AgentOptions{})
	c := a.Client(b)
	ns := openNetns(b, pod.Target)
	ctx := context.Background()
	sinkRelay := startSocat(b, pod, 17009, agenttest.AppSinkPort)
	echoRelay := startSocat(b, pod, 17007, agenttest.AppEchoPort)

	dialers := []struct {
		name string
		dial func(port, relayPort int) (net.Conn, error)
	}{
		{"direct", func(port, _ int) (net.Conn, error) {
			return ns.DialContext(ctx, nil, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		}},
		{"socat", func(_, relayPort int) (net.Conn, error) {
			return ns.DialContext(ctx, nil, "tcp", fmt.Sprintf("127.0.0.1:%d", relayPort))
		}},
		{"agent", func(port, _ int) (net.Conn, error) {
			return c.DialTCP(ctx, fmt.Sprintf("127.0.0.1:%d", port))
		}},
	}
	for _, d := range dialers {
		b.Run("throughput/"+d.name, func(b *testing.B) {
			conn, err := d.dial(agenttest.AppSinkPort, sinkRelay)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			closeWrite(conn)
			got, err := io.ReadAll(conn)
			b.StopTimer()
			if err != nil || string(got) != strconv.Itoa(b.N*len(buf)) {
				b.Fatalf("sink counted %q (%v), want %d", got, err, b.N*len(buf))
			}
		})
	}
	for _, d := range dialers {
		b.Run("rtt/"+d.name, func(b *testing.B) {
			conn, err := d.dial(agenttest.AppEchoPort, echoRelay)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			one := []byte{'x'}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(one); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, one); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// startSocat runs a socat relay from listen to 127.0.0.1:to inside the
// target namespace and returns listen once it accepts connections.
func startSocat(b *testing.B, pod *agenttest.Pod, listen, to int) int {
	if _, err := exec.LookPath("socat"); err != nil {
		b.Skip("socat not installed")
	}
	cmd := exec.Command("ip", "netns", "exec", pod.Target, "socat",
		fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,nodelay", listen),
		fmt.Sprintf("TCP:127.0.0.1:%d,nodelay", to))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // socat and its forked relays
		cmd.Wait()
	})
	// Wait until the relay listens (a probe connection through it works).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := pod.ExecTarget(context.Background(), "sh", "-c", fmt.Sprintf("ss -Hltn 'sport = :%d' | grep -q LISTEN", listen))
		if err == nil {
			return listen
		}
		if time.Now().After(deadline) {
			b.Fatalf("socat relay on %d not listening: %v %s", listen, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
