package realnode

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// percentile of sorted durations, in milliseconds.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i]) / float64(time.Millisecond)
}

// execPhases are the progress lines of `mirrord exec` whose arrival is
// reported, in order, by a substring of the line.
var execPhases = []struct{ name, match string }{
	{"resolved", "target"},
	{"job", "agent"},
	{"running", "running"},
	{"connected", "connected"},
	{"child", "CHILD-RUNNING"},
}

// BenchmarkExecStart: `mirrord exec --target deployment/api -- sh -c 'echo
// CHILD-RUNNING'`, from the command's start to the child running, with an
// agent pod created every time (the image is on the node: it is loaded
// there, never pulled). The first run is reported apart ("first") as the
// coldest start; p50/p90 are over all runs. Phases: the arrival of the
// progress lines after the start.
func BenchmarkExecStart(b *testing.B) {
	f := setup(b)
	cfg := f.config(b, nil)
	var total []time.Duration
	phases := map[string][]time.Duration{}
	var first time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd := exec.Command(mirrordBin(b), "exec", "-f", cfg, "--target", "deployment/"+apiName, "--",
			"sh", "-c", "echo CHILD-RUNNING")
		cmd.Env = append(os.Environ(), f.env()...)
		pr, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			s := bufio.NewScanner(pr)
			for s.Scan() {
				lines <- s.Text()
			}
			close(lines)
		}()
		seen := map[string]bool{}
		var out strings.Builder
		var childAt time.Duration
		for l := range lines {
			at := time.Since(start)
			out.WriteString(l + "\n")
			low := strings.ToLower(l)
			for _, p := range execPhases {
				if !seen[p.name] && strings.Contains(low, strings.ToLower(p.match)) {
					seen[p.name] = true
					phases[p.name] = append(phases[p.name], at)
					if p.name == "child" {
						childAt = at
					}
				}
			}
		}
		err = cmd.Wait()
		if err != nil || childAt == 0 {
			b.Fatalf("mirrord exec: %v\n%s", err, out.String())
		}
		if i == 0 {
			first = childAt
		}
		total = append(total, childAt)
	}
	b.ReportMetric(percentile(total, 0.5), "p50-ms")
	b.ReportMetric(percentile(total, 0.9), "p90-ms")
	b.ReportMetric(float64(first)/float64(time.Millisecond), "first-ms")
	for _, p := range execPhases[:len(execPhases)-1] {
		if len(phases[p.name]) > 0 {
			b.ReportMetric(percentile(phases[p.name], 0.5), p.name+"-p50-ms")
		}
	}
	f.agentsGone(b, f.ns)
}

// forwarder is a running port-forward (ours or kubectl's) and its port.
type forwarder struct {
	cmd  *exec.Cmd
	port int
}

func (fw *forwarder) stop() {
	_ = syscall.Kill(-fw.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = fw.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-fw.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// startForwarder starts cmd and waits until a line matches re (whose
// group 1, when present, is the local port).
func startForwarder(b *testing.B, cmd *exec.Cmd, re *regexp.Regexp, port int) *forwarder {
	b.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	fw := &forwarder{cmd: cmd, port: port}
	found := make(chan int, 1)
	go func() {
		s := bufio.NewScanner(pr)
		sent := false
		for s.Scan() {
			if m := re.FindStringSubmatch(s.Text()); m != nil && !sent {
				p := port
				if len(m) > 1 {
					fmt.Sscan(m[1], &p)
				}
				found <- p
				sent = true
			}
		}
	}()
	select {
	case fw.port = <-found:
	case <-time.After(2 * time.Minute):
		fw.stop()
		b.Fatalf("%s did not become ready", cmd.Path)
	}
	return fw
}

// rtt measures round trips of a 64-byte message over one connection, and
// the time to the first byte of a new connection.
func rtt(b *testing.B, port, n int) (round []time.Duration, firstByte time.Duration) {
	b.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	msg := []byte(strings.Repeat("x", 63) + "\n")
	buf := make([]byte, len(msg))
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			firstByte = time.Since(start)
		}
		round = append(round, time.Since(t0))
	}
	return round, firstByte
}

// throughput echoes size bytes through one connection, in MB/s.
func throughput(b *testing.B, port, size int) float64 {
	b.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if _, err := io.CopyN(io.Discard, c, int64(size)); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return float64(size) / time.Since(start).Seconds() / 1e6
}

// BenchmarkForward compares `mirrord port-forward -L` with `kubectl
// port-forward` to the same pod port (both through the apiserver and the
// kubelet), and -L through the agent to the pod's IP: round trip of small
// messages on one connection (p50/p90), time to the first echoed byte of a
// new connection, and echo throughput.
func BenchmarkForward(b *testing.B) {
	f := setup(b)
	cfg := f.config(b, nil)
	const rounds, size = 500, 16 << 20
	run := func(b *testing.B, fw *forwarder) {
		var all []time.Duration
		var firsts []time.Duration
		var mbs float64
		for i := 0; i < b.N; i++ {
			r, fb := rtt(b, fw.port, rounds)
			all = append(all, r...)
			firsts = append(firsts, fb)
			mbs += throughput(b, fw.port, size)
		}
		b.ReportMetric(percentile(all, 0.5)*1000, "rtt-p50-µs")
		b.ReportMetric(percentile(all, 0.9)*1000, "rtt-p90-µs")
		b.ReportMetric(percentile(firsts, 0.5), "first-byte-ms")
		b.ReportMetric(mbs/float64(b.N), "MB/s")
	}
	// -L to the target pod's own loopback: mirrord goes straight through
	// the kubelet's port-forward, as kubectl does.
	b.Run("mirrord", func(b *testing.B) {
		port := freePort(b)
		cmd := exec.Command(mirrordBin(b), "port-forward", "-f", cfg, "-t", "deployment/"+echoName,
			"-L", fmt.Sprintf("%d:localhost:%d", port, echoPort))
		cmd.Env = append(os.Environ(), f.env()...)
		fw := startForwarder(b, cmd, regexp.MustCompile(`-L .* ready`), port)
		defer fw.stop()
		run(b, fw)
	})
	// -L to the pod's IP: through the agent (the path of every
	// destination other than the target's loopback).
	b.Run("mirrord-agent", func(b *testing.B) {
		port := freePort(b)
		cmd := exec.Command(mirrordBin(b), "port-forward", "-f", cfg, "-t", "deployment/"+echoName,
			"-L", fmt.Sprintf("%d:%s:%d", port, f.podIP(b, "app="+echoName), echoPort))
		cmd.Env = append(os.Environ(), f.env()...)
		fw := startForwarder(b, cmd, regexp.MustCompile(`-L .* ready`), port)
		defer fw.stop()
		run(b, fw)
	})
	b.Run("kubectl", func(b *testing.B) {
		cmd := exec.Command(f.kubectl, "--kubeconfig", f.c.AdminKubeconfig, "-n", f.ns,
			"port-forward", "deploy/"+echoName, fmt.Sprintf(":%d", echoPort))
		fw := startForwarder(b, cmd, regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`), 0)
		defer fw.stop()
		run(b, fw)
	})
}

// BenchmarkClusterMemory reports the resident memory of the local cluster's
// processes (control plane, kwok, containerd, kubelet, kube-proxy, CoreDNS)
// and of the pods' shims, as they stand when it runs (after the fixture's
// workloads are up: run it after the other benchmarks or tests).
func BenchmarkClusterMemory(b *testing.B) {
	f := setup(b)
	total := 0.0
	for i := 0; i < b.N; i++ {
		total = 0
		pids, _ := filepath.Glob(filepath.Join(f.c.StateDir, "run", "*.pid"))
		for _, p := range pids {
			raw, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			mb := rssMB(strings.TrimSpace(string(raw)))
			name := strings.TrimSuffix(filepath.Base(p), ".pid")
			b.ReportMetric(mb, name+"-MB")
			total += mb
		}
		shims := 0.0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if bytes.HasPrefix(cmd, []byte("/usr/bin/containerd-shim")) && bytes.Contains(cmd, []byte(f.node.ContainerdSock)) {
				shims += rssMB(e.Name())
			}
		}
		b.ReportMetric(shims, "shims-MB")
		total += shims
	}
	b.ReportMetric(total, "total-MB")
}

// rssMB is the resident set of a process in MB (0 when gone).
func rssMB(pid string) float64 {
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
