package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

// strangerRSSBound is the most resident memory the agent's process may
// reach while 4,000 strangers connect (docs/security.md): far below the
// agent container's default 100 Mi limit, so a flood cannot get it
// OOM-killed.
const strangerRSSBound = 48 << 20

// strangerRSSReturned is how far above its baseline the agent's resident
// memory may stay once the strangers are gone (the runtime keeps some of
// the freed stacks and spans mapped; the flood's buffers are given back).
const strangerRSSReturned = 8 << 20

// TestStrangersRSSWithExec is the process-level proof of the bounded
// strangers (issue 15): a real agent (guard and worker) on a netns pod is
// flooded with 4,000 unauthenticated connections, slow and oversized
// handshakes among them, while `mirrord exec` runs a program through it.
// The worker's resident memory (VmRSS, what the OOM killer and the
// container's memory limit count) stays under strangerRSSBound, the program
// gets the pod's environment, and the memory goes back down after the
// strangers are closed.
func TestStrangersRSSWithExec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the mirrord CLI and layer")
	}
	agenttest.RequireRoot(t)
	mirrord := testbin.Mirrord(t)
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: map[string]string{"FLOOD_CHECK": "served during the flood"}})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "60s"}})
	workers := a.Workers()
	if len(workers) != 1 {
		t.Fatalf("agent workers %v, want one", workers)
	}
	worker := workers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A client stays connected, so the agent's lifetime does not end
	// between the exec and the end of the test.
	keep := a.Client(t)
	useClient(ctx, t, keep)
	base := vmRSS(t, worker)

	var (
		mu   sync.Mutex
		peak = base
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if rss, err := readVmRSS(worker); err == nil {
				mu.Lock()
				peak = max(peak, rss)
				mu.Unlock()
			}
		}
	}()

	start := time.Now()
	flood := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStrangerFloodProcess$", "-test.v=false")
	flood.Env = append(os.Environ(), envFlood+"="+a.Addr, fmt.Sprintf("%s=%d", envFloodCount, 4000))
	flood.Stderr = os.Stderr
	out, err := flood.StdoutPipe()
	must(t, err)
	must(t, flood.Start())
	sc := bufio.NewScanner(out)
	var report string
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "flood: ")
		if !ok {
			continue
		}
		if line != "opened" {
			report = line
			continue
		}
		t.Logf("4000 strangers opened in %v", time.Since(start).Round(time.Millisecond))
		// The strangers are held (slow ones until the 5 s handshake
		// timeout): run a program through the agent now.
		execStart := time.Now()
		got := mirrordExec(t, ctx, mirrord, a, pod, `printf %s "$FLOOD_CHECK"`)
		t.Logf("mirrord exec during the flood took %v", time.Since(execStart).Round(time.Millisecond))
		if got != "served during the flood" {
			t.Errorf("mirrord exec during the flood printed %q", got)
		}
	}
	if err := flood.Wait(); err != nil {
		t.Fatalf("stranger process: %v (last report %q)", err, report)
	}
	close(stopSampling)
	<-sampled
	t.Logf("strangers: %s", report)
	t.Logf("agent worker VmRSS: %.1f MiB before, peak %.1f MiB during the flood (bound %d MiB)", mib(base), mib(peak), strangerRSSBound>>20)
	if peak > strangerRSSBound {
		t.Errorf("agent worker VmRSS peaked at %.1f MiB, bound %d MiB", mib(peak), strangerRSSBound>>20)
	}
	// The agent gives the flood's memory back once no stranger is pending.
	var end uint64
	for deadline := time.Now().Add(15 * time.Second); ; {
		end = vmRSS(t, worker)
		if end <= base+strangerRSSReturned || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("agent worker VmRSS after the strangers left: %.1f MiB", mib(end))
	if end > base+strangerRSSReturned {
		t.Errorf("memory not given back: VmRSS %.1f MiB after the flood, %.1f MiB before, peak %.1f MiB", mib(end), mib(base), mib(peak))
	}
	useClient(ctx, t, keep)
}

// mirrordExec runs `mirrord exec -- sh -c script` against the
// pre-started agent a and returns its stdout.
func mirrordExec(t *testing.T, ctx context.Context, mirrord string, a *agenttest.Agent, pod *agenttest.Pod, script string) string {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{})
	must(t, err)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mirrord.json")
	must(t, os.WriteFile(cfgPath, cfg, 0o644))
	sessions, err := os.MkdirTemp("", "ls") // short: socket paths
	must(t, err)
	defer os.RemoveAll(sessions)
	cmd := exec.CommandContext(ctx, mirrord, "exec", "-f", cfgPath, "-t", "pod/"+pod.Target, "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(),
		"TMPDIR="+dir,
		"MIRRORD_AGENT_ADDRESS="+a.Addr,
		"MIRRORD_AGENT_TOKEN="+a.Token,
		"MIRRORD_SESSIONS_DIR="+sessions,
	)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mirrord exec: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// readVmRSS is the resident memory of process pid.
func readVmRSS(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}

func vmRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	rss, err := readVmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return rss
}
