package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

// BenchmarkExtPrestartedAgent measures `mirrord ext` with a pre-started
// agent as an editor sees it: from starting the process to reading the
// root FinishedTask line (config, connect, environment, intproxy start and
// its own agent connection, registration). Target: <= 300 ms. Each
// session is stopped outside the timed region.
func BenchmarkExtPrestartedAgent(b *testing.B) {
	f := newFixture(b, map[string]string{"GREETING": "hi"})
	cfg := f.config(map[string]any{})
	env := f.env()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(f.mirrord, "ext", "-f", cfg)
		cmd.Env = env
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		found := false
		for sc.Scan() {
			var l ideLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Type == "FinishedTask" && l.Name == rootTask && l.Success != nil && *l.Success {
				found = true
				break
			}
		}
		b.StopTimer()
		if !found {
			b.Fatal("no final line")
		}
		_ = cmd.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		infos, _ := registry.List(ctx, f.sessions)
		for _, in := range infos {
			_ = registry.Kill(ctx, f.sessions, in.ID)
			agenttest.WaitGone(b, in.PID)
		}
		cancel()
		b.StartTimer()
	}
}
