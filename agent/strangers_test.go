package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent"
	"github.com/mirrord-ls/mirrord-ls/agent/target"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// inProcessAgent runs a targetless agent in this process, so the test can
// read the agent's heap, and returns its address.
func inProcessAgent(t *testing.T, token string, handshake time.Duration, maxPending int) (*agent.Agent, string) {
	t.Helper()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	tg := target.Targetless()
	tg.Root = root
	ctx, cancel := context.WithCancel(context.Background())
	a, err := agent.New(ctx, agent.Config{
		Token:                token,
		Target:               tg,
		Targetless:           true,
		CommunicationTimeout: 5 * time.Minute,
		Linger:               5 * time.Minute,
		HandshakeTimeout:     handshake,
		MaxPending:           maxPending,
		Version:              "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("agent did not stop within 30s")
		}
	})
	return a, ln.Addr().String()
}

// memUse is the heap and the goroutine stacks in use after a collection.
type memUse struct{ heap, stacks uint64 }

func readMem() memUse {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memUse{ms.HeapAlloc, ms.StackInuse}
}

func (m memUse) total() uint64 { return m.heap + m.stacks }

func (m memUse) String() string {
	return fmt.Sprintf("heap %.1f MiB + stacks %.1f MiB", mib(m.heap), mib(m.stacks))
}

// stranger kinds: what an unauthenticated connection sends.
type strangerKind int

const (
	bigHeader  strangerKind = iota // declares a 64 KiB header and sends nothing more
	slowHello                      // declares a 4 KiB Hello, sends 100 bytes of it, stalls
	wrongToken                     // a complete Hello with a wrong token
	silent                         // sends nothing
	kinds
)

func (k strangerKind) String() string {
	return [...]string{"big header", "slow hello", "wrong token", "silent"}[k]
}

// strangerBytes is what a stranger of kind k writes after connecting.
func strangerBytes(t *testing.T, k strangerKind) []byte {
	var b bytes.Buffer
	switch k {
	case bigHeader:
		b.Write(binary.BigEndian.AppendUint32(nil, protocol.MaxHeaderSize))
		b.WriteString(`{"magic":"`)
	case slowHello:
		b.Write(binary.BigEndian.AppendUint32(nil, protocol.MaxHelloSize))
		b.Write(bytes.Repeat([]byte{' '}, 100))
	case wrongToken:
		if err := protocol.WriteMessage(&b, protocol.Hello{Magic: protocol.Magic, Protocol: protocol.Version, Token: "wrong"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestStrangersBounded floods an agent (in this process) with 4,000
// connections that never authenticate, opened by a child process so that
// this process's heap is the agent's, while real clients keep connecting
// and working. It checks that the agent's heap and stacks stay under a
// bound, that every stranger is closed within the handshake timeout, and
// that the memory returns after they leave.
func TestStrangersBounded(t *testing.T) {
	const (
		strangers  = 4000
		maxPending = agent.DefaultMaxPending
		handshake  = 2 * time.Second
		// bound is the most the agent may add to heap and goroutine
		// stacks while the strangers connect. Without limits, 4,000
		// declared 64 KiB headers cost 256 MiB.
		bound = 16 << 20
		// returned is how far above the baseline the heap may stay after
		// the strangers left (the streams of the clients of the last
		// 30 s live until their yamux close timers fire). Stacks are not
		// held to it: the runtime keeps some stacks of ended goroutines
		// for reuse, at most what the peak used.
		returned = 1 << 20
	)
	token := "the-right-token"
	a, addr := inProcessAgent(t, token, handshake, maxPending)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A real client, connected before the flood, keeps working through it.
	before, err := protocol.Dial(ctx, addr, protocol.Options{Token: token, Info: protocol.ClientInfo{Name: "before"}})
	if err != nil {
		t.Fatalf("client before the flood: %v", err)
	}
	defer before.Close()
	useClient(ctx, t, before)
	base := readMem()

	// Clients connecting during the flood, one every 20 ms.
	stopClients := make(chan struct{})
	clientErrs := make(chan error, 1)
	var during int
	go func() {
		defer close(clientErrs)
		for {
			select {
			case <-stopClients:
				return
			case <-time.After(20 * time.Millisecond):
			}
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := protocol.Dial(cctx, addr, protocol.Options{Token: token, Info: protocol.ClientInfo{Name: "during"}})
			if err == nil {
				_, err = c.Env(cctx, protocol.EnvRequest{Include: []string{"PATH"}})
				c.Close()
			}
			ccancel()
			if err != nil {
				clientErrs <- fmt.Errorf("client %d during the flood: %w", during+1, err)
				return
			}
			during++
		}
	}()

	start := time.Now()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStrangerFloodProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), envFlood+"="+addr, fmt.Sprintf("%s=%d", envFloodCount, strangers))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var peak memUse
	pending := -1
	var report string
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "flood: ")
		if !ok {
			continue
		}
		if line == "opened" {
			peak = readMem()
			pending = a.PendingHandshakes()
			t.Logf("%d strangers opened in %v; agent pending handshakes %d (max %d); %v -> %v (+%.1f MiB, bound %d MiB); %d goroutines",
				strangers, time.Since(start).Round(time.Millisecond), pending, maxPending,
				base, peak, mib(peak.total())-mib(base.total()), bound>>20, runtime.NumGoroutine())
			continue
		}
		report = line
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stranger process: %v (last report %q)", err, report)
	}
	if pending < 0 {
		t.Fatal("the stranger process never reported its connections opened")
	}
	if pending > maxPending {
		t.Errorf("%d pending handshakes, limit %d", pending, maxPending)
	}
	if peak.total() > base.total()+bound {
		t.Errorf("heap+stacks grew by %.1f MiB with %d strangers, bound %d MiB", mib(peak.total())-mib(base.total()), strangers, bound>>20)
	}
	var worst time.Duration
	var answered int
	if _, err := fmt.Sscanf(report, "worst %d answered %d", &worst, &answered); err != nil {
		t.Fatalf("stranger report %q: %v", report, err)
	}
	t.Logf("every stranger closed by the agent; the longest was held %v (handshake timeout %v)", worst.Round(time.Millisecond), handshake)
	if worst > handshake+3*time.Second {
		t.Errorf("a stranger was held %v, handshake timeout %v", worst, handshake)
	}
	if answered > 0 {
		t.Errorf("%d strangers were sent bytes", answered)
	}
	close(stopClients)
	if err := <-clientErrs; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients connected and were served during the flood (%v)", during, time.Since(start).Round(time.Millisecond))
	if during == 0 {
		t.Error("no client connected during the flood")
	}

	// After: the client of before still works, a new one connects, and
	// the memory is given back.
	useClient(ctx, t, before)
	after, err := protocol.Dial(ctx, addr, protocol.Options{Token: token, Info: protocol.ClientInfo{Name: "after"}})
	if err != nil {
		t.Fatalf("client after the flood: %v", err)
	}
	useClient(ctx, t, after)
	after.Close()
	var end memUse
	for deadline := time.Now().Add(10 * time.Second); ; {
		end = readMem()
		if end.heap <= base.heap+returned || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after the strangers left: %v (baseline %v); %d goroutines; pending handshakes %d", end, base, runtime.NumGoroutine(), a.PendingHandshakes())
	if end.heap > base.heap+returned {
		t.Errorf("heap not returned: %.1f MiB, baseline %.1f MiB", mib(end.heap), mib(base.heap))
	}
	if end.stacks > peak.stacks {
		t.Errorf("stacks grew after the strangers left: %.1f MiB, peak %.1f MiB", mib(end.stacks), mib(peak.stacks))
	}
	if n := a.PendingHandshakes(); n != 0 {
		t.Errorf("%d handshakes still pending after the strangers left", n)
	}
}

// The stranger process of TestStrangersBounded.
const (
	envFlood      = "MIRRORD_TEST_STRANGER_FLOOD"
	envFloodCount = "MIRRORD_TEST_STRANGER_COUNT"
)

// TestStrangerFloodProcess is the stranger process of TestStrangersBounded
// (skipped otherwise): it opens the strangers, every kind in turn, prints
// "flood: opened", waits until the agent closed each one and prints the
// longest any was held and how many were sent bytes.
func TestStrangerFloodProcess(t *testing.T) {
	addr := os.Getenv(envFlood)
	if addr == "" {
		t.Skip("only run by TestStrangersBounded")
	}
	n, err := strconv.Atoi(os.Getenv(envFloodCount))
	must(t, err)
	var (
		mu       sync.Mutex
		worst    time.Duration
		answered int
		opened   sync.WaitGroup
		readers  sync.WaitGroup
	)
	closedAfter := func(d time.Duration, got int64) {
		mu.Lock()
		worst = max(worst, d)
		if got > 0 {
			answered++
		}
		mu.Unlock()
	}
	const workers = 16
	for w := range workers {
		opened.Add(1)
		go func() {
			defer opened.Done()
			for i := w; i < n; i += workers {
				k := strangerKind(i % int(kinds))
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Errorf("stranger %d: %v", i, err)
					return
				}
				t0 := time.Now()
				if msg := strangerBytes(t, k); len(msg) > 0 {
					if _, err := conn.Write(msg); err != nil {
						conn.Close() // closed by the agent already
						closedAfter(time.Since(t0), 0)
						continue
					}
				}
				readers.Add(1)
				go func() {
					defer readers.Done()
					defer conn.Close()
					_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
					got, _ := io.Copy(io.Discard, conn)
					closedAfter(time.Since(t0), got)
				}()
			}
		}()
	}
	opened.Wait()
	fmt.Println("flood: opened")
	readers.Wait()
	fmt.Printf("flood: worst %d answered %d\n", worst, answered)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// useClient checks that c is served.
func useClient(ctx context.Context, t *testing.T, c *protocol.Client) {
	t.Helper()
	env, err := c.Env(ctx, protocol.EnvRequest{Include: []string{"PATH"}})
	if err != nil || env["PATH"] == "" {
		t.Fatalf("env = %v, %v", env, err)
	}
}

// TestStrangerClosedPromptly checks each kind of stranger alone: a refused
// one is closed at once, a stalled one at the handshake timeout.
func TestStrangerClosedPromptly(t *testing.T) {
	const handshake = 1 * time.Second
	_, addr := inProcessAgent(t, "the-right-token", handshake, 8)
	tests := []struct {
		kind strangerKind
		max  time.Duration
	}{
		{bigHeader, 500 * time.Millisecond},
		{wrongToken, 500 * time.Millisecond},
		{slowHello, handshake + time.Second},
		{silent, handshake + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(strangerBytes(t, tt.kind)); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			_ = conn.SetReadDeadline(t0.Add(10 * time.Second))
			n, err := io.Copy(io.Discard, conn)
			d := time.Since(t0)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still open after %v", d)
			}
			if n != 0 || d > tt.max {
				t.Fatalf("closed after %v with %d bytes sent, want nothing within %v", d, n, tt.max)
			}
		})
	}
}

// TestMaxPendingEvictsOldest fills the pending slots with silent strangers
// and checks that a new connection closes the oldest and that a client
// still gets in.
func TestMaxPendingEvictsOldest(t *testing.T) {
	const maxPending = 4
	token := "the-right-token"
	a, addr := inProcessAgent(t, token, time.Minute, maxPending)
	var olds []net.Conn
	for range maxPending {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		olds = append(olds, c)
	}
	waitFor(t, func() bool { return a.PendingHandshakes() == maxPending })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := protocol.Dial(ctx, addr, protocol.Options{Token: token})
	if err != nil {
		t.Fatalf("client with every pending slot taken: %v", err)
	}
	defer c.Close()
	useClient(ctx, t, c)
	// The client's connection pushed out the oldest stranger.
	_ = olds[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := olds[0].Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("oldest pending connection: read %v, want closed", err)
	}
	_ = olds[1].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := olds[1].Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("second oldest pending connection: read %v, want still open", err)
	}
	if n := a.PendingHandshakes(); n != maxPending-1 {
		t.Fatalf("%d pending handshakes, want %d", n, maxPending-1)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStrangersDoNotExtendLifetime keeps opening silent connections to an
// agent that no client reaches and checks that it still exits, at most one
// handshake timeout after its communication timeout.
func TestStrangersDoNotExtendLifetime(t *testing.T) {
	const (
		commTimeout = 300 * time.Millisecond
		handshake   = 500 * time.Millisecond
	)
	root := t.TempDir()
	tg := target.Targetless()
	tg.Root = root
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := agent.New(ctx, agent.Config{
		Token: "tok", Target: tg, Targetless: true,
		CommunicationTimeout: commTimeout, HandshakeTimeout: handshake, MaxPending: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Serve(ctx, ln) }()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				defer c.Close()
			}
		}
	}()
	select {
	case err := <-done:
		took := time.Since(start)
		t.Logf("the agent exited after %v with strangers connecting every 10 ms (communication timeout %v, handshake timeout %v)", took.Round(time.Millisecond), commTimeout, handshake)
		if err != nil {
			t.Fatal(err)
		}
		if took > commTimeout+handshake+2*time.Second {
			t.Fatalf("exited after %v", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("strangers kept the agent alive for 30 s")
	}
}
