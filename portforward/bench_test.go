package portforward_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/portforward"
)

// BenchmarkForward compares, side by side in one run, a TCP connection from
// the host to a server inside the target namespace:
//
//   - direct: a socket made inside the namespace (no relay at all);
//   - socat: two socat relays, the same hops as port-forward: one on the
//     host (TCP in, unix socket out) and one in the target namespace (unix
//     socket in, TCP out), with socat's default 8 KiB buffer;
//   - socat-64k: the same with 64 KiB buffers (-b 65536);
//   - portforward: a -L route: the forwarder on the host, then the agent
//     (multiplexed over loopback TCP), which connects inside the namespace.
//
// "throughput" streams 64 KiB writes into a sink that counts them; "rtt"
// is a one-byte echo round trip on an established connection.
func BenchmarkForward(b *testing.B) {
	pod, a := newPod(b)
	ns, err := netns.Open("/run/netns/" + pod.Target)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	ctx := context.Background()
	sockDir := b.TempDir()
	socatSink := startSocatPair(b, pod, filepath.Join(sockDir, "sink.sock"), agenttest.AppSinkPort, "8192")
	socatEcho := startSocatPair(b, pod, filepath.Join(sockDir, "echo.sock"), agenttest.AppEchoPort, "8192")
	bigSink := startSocatPair(b, pod, filepath.Join(sockDir, "sink64k.sock"), agenttest.AppSinkPort, "65536")
	bigEcho := startSocatPair(b, pod, filepath.Join(sockDir, "echo64k.sock"), agenttest.AppEchoPort, "65536")
	r := start(b, portforward.Config{Routes: portforward.Routes{Local: []portforward.LocalRoute{
		{Host: "127.0.0.1", RemotePort: agenttest.AppSinkPort},
		{Host: "127.0.0.1", RemotePort: agenttest.AppEchoPort},
	}}, Agents: staticAgent(a)}, portforward.Quiet)

	type dialFunc func(echo bool) (net.Conn, error)
	tcp := func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
	dialers := []struct {
		name string
		dial dialFunc
	}{
		{"direct", func(echo bool) (net.Conn, error) {
			port := agenttest.AppSinkPort
			if echo {
				port = agenttest.AppEchoPort
			}
			return ns.DialContext(ctx, nil, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		}},
		{"socat", func(echo bool) (net.Conn, error) {
			if echo {
				return tcp(socatEcho)
			}
			return tcp(socatSink)
		}},
		{"socat-64k", func(echo bool) (net.Conn, error) {
			if echo {
				return tcp(bigEcho)
			}
			return tcp(bigSink)
		}},
		{"portforward", func(echo bool) (net.Conn, error) {
			if echo {
				return tcp(r.LocalAddr(1).String())
			}
			return tcp(r.LocalAddr(0).String())
		}},
	}
	for _, d := range dialers {
		b.Run("throughput/"+d.name, func(b *testing.B) {
			conn, err := d.dial(false)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			conn.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(conn)
			b.StopTimer()
			if err != nil || string(got) != strconv.Itoa(b.N*len(buf)) {
				b.Fatalf("sink counted %q (%v), want %d", got, err, b.N*len(buf))
			}
		})
	}
	for _, d := range dialers {
		b.Run("rtt/"+d.name, func(b *testing.B) {
			conn, err := d.dial(true)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			one := []byte{'x'}
			b.ResetTimer()
			for range b.N {
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

// startSocatPair starts socat in the target namespace (unix socket sock →
// 127.0.0.1:to) and socat on the host (a loopback TCP port → sock), both
// with buffers of bufSize bytes, and returns the host address once it
// relays.
func startSocatPair(b *testing.B, pod *agenttest.Pod, sock string, to int, bufSize string) string {
	if _, err := exec.LookPath("socat"); err != nil {
		b.Skip("socat not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	run := func(args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // socat and its forked relays
			cmd.Wait()
		})
	}
	run("ip", "netns", "exec", pod.Target, "socat", "-b", bufSize,
		"UNIX-LISTEN:"+sock+",fork,unlink-early", fmt.Sprintf("TCP:127.0.0.1:%d,nodelay", to))
	run("socat", "-b", bufSize, fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,nodelay", port), "UNIX-CONNECT:"+sock)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b.Fatalf("socat on %s not ready: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
