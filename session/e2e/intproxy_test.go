package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/layer/intproxy"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
)

// envHandoffIntproxy makes this test binary play `mirrord intproxy` with
// the session handoff wired in — what cmd/mirrord/intproxy.go does once it
// adopts session/handoff (docs/sessions.md): dial through the handoff (a
// cluster agent through port-forward), describe the session in the
// registry, and run handoff.Finish at the end (agent removed, Jira).
const envHandoffIntproxy = "SESSION_E2E_HANDOFF_INTPROXY"

// runHandoffIntproxy is `intproxy --listen SOCKET [--supervisor-listen
// PATH]` (the attach socket is not served here); it returns the exit code.
func runHandoffIntproxy(args []string) int {
	if len(args) == 5 && args[3] == "--supervisor-listen" {
		args = args[:3]
	}
	if len(args) != 3 || args[0] != "intproxy" || args[1] != "--listen" {
		fmt.Println("error: usage: intproxy --listen SOCKET [--supervisor-listen PATH]")
		return 2
	}
	if err := handoffIntproxy(args[2]); err != nil {
		fmt.Println("error: " + err.Error())
		return 1
	}
	return 0
}

func handoffIntproxy(listen string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := settings.Decode(os.Getenv(settings.EnvVar))
	if err != nil {
		return err
	}
	ho, err := handoff.FromEnv(nil)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	agent, err := ho.Dial(dctx, s.Agent.Address, s.Agent.Token, protocol.ClientInfo{Name: "mirrord-intproxy"})
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the agent: %w", err)
	}
	defer agent.Close()
	info := registry.Info{ID: os.Getenv("MIRRORD_SESSION_ID"), Target: s.Target, StartedAt: time.Now().UTC(), PID: os.Getpid()}
	ho.Describe(&info)
	dir, err := registry.DefaultDir(nil)
	if err != nil {
		return err
	}
	host, err := registry.Listen(ctx, dir, info)
	if err != nil {
		return err
	}
	defer func() { ho.Finish(context.Background(), time.Now(), nil, nil) }()
	defer host.Close()
	err = intproxy.Run(ctx, intproxy.Config{Settings: s, Agent: agent, Registry: host}, listen, func() { fmt.Println("ready") })
	if err == intproxy.ErrIdle {
		err = nil
	}
	return err
}
