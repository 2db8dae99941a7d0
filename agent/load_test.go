package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
)

// TestLoadConcurrentOutgoing opens 1,000 outgoing connections at once
// through one client connection, each echoing its own random payload, and
// checks every byte came back on the right stream.
func TestLoadConcurrentOutgoing(t *testing.T) {
	const streams = 1000
	pod := agenttest.NewPod(t, agenttest.PodOptions{})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	c := a.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, streams)
	start := make(chan struct{})
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			payload := make([]byte, 16<<10+rng.IntN(48<<10))
			for j := range payload {
				payload[j] = byte(rng.Uint32())
			}
			// Tag each payload with its stream number so a mix-up is visible.
			copy(payload, fmt.Sprintf("stream %04d:", i))
			want := sha256.Sum256(payload)
			conn, err := c.DialTCP(ctx, fmt.Sprintf("127.0.0.1:%d", agenttest.AppEchoPort))
			if err != nil {
				errs <- fmt.Errorf("stream %d: dial: %w", i, err)
				return
			}
			defer conn.Close()
			go func() {
				for off := 0; off < len(payload); {
					n := min(len(payload)-off, 1+rng.IntN(8<<10))
					if _, err := conn.Write(payload[off : off+n]); err != nil {
						return
					}
					off += n
				}
				conn.CloseWrite()
			}()
			got, err := io.ReadAll(conn)
			if err != nil {
				errs <- fmt.Errorf("stream %d: read: %w", i, err)
				return
			}
			if sha256.Sum256(got) != want {
				prefix := got[:min(len(got), 12)]
				errs <- fmt.Errorf("stream %d: %d bytes back, want %d; checksum differs (starts %q)", i, len(got), len(payload), bytes.TrimSpace(prefix))
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d streams failed", n, streams)
	}
}
