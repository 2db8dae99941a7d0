package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/layer/intproxy"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
)

// Environment of `mirrord intproxy` (set by `mirrord exec`).
const (
	envLayerAddr    = "MIRRORD_LAYER_INTPROXY_ADDR"
	envSessionID    = "MIRRORD_SESSION_ID"
	envIntproxyLog  = "MIRRORD_INTPROXY_LOG"
	envConfigPath   = "MIRRORD_CONFIG_FILE"
	intproxyReady   = "ready"
	intproxyFailure = "error: "
)

func newIntproxyCmd() *cobra.Command {
	var listen, supervise string
	cmd := &cobra.Command{
		Use:    "intproxy",
		Short:  "Serve the layers of one session (started by mirrord exec)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = os.Getenv(envLayerAddr)
			}
			err := runIntproxy(cmd.Context(), listen, supervise, cmd.OutOrStdout())
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), intproxyFailure+err.Error())
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "unix socket path for layers (default $"+envLayerAddr+")")
	cmd.Flags().StringVar(&supervise, "supervisor-listen", "", "unix socket path where programs attach to the seccomp supervisor (none when empty)")
	return cmd
}

// runIntproxy connects to the agent, announces readiness on ready (one
// line, then it is closed by the parent) and serves until idle; with
// supervise, static and Go programs started with the launch environment
// attach there to a seccomp supervisor (layer/supervisor).
func runIntproxy(ctx context.Context, listen, supervise string, ready io.Writer) error {
	if listen == "" {
		return fmt.Errorf("no layer socket: pass --listen or set %s", envLayerAddr)
	}
	raw := os.Getenv(settings.EnvVar)
	if raw == "" {
		return fmt.Errorf("%s is not set: `mirrord intproxy` is started by `mirrord exec`", settings.EnvVar)
	}
	s, err := settings.Decode(raw)
	if err != nil {
		return err
	}
	log, closeLog, err := intproxyLogger()
	if err != nil {
		return err
	}
	defer closeLog()

	// session.Start (`mirrord exec`, `mirrord ext`, mirrord-ls) hands over
	// how to reach the agent (a cluster agent through port-forward, or a
	// pre-started agent's address) and what to do at the end (delete the
	// agent, report to Jira). Without a handoff, agent.address is dialled.
	ho, err := handoff.FromEnv(nil)
	if err != nil {
		return err
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	agent, err := ho.Dial(dialCtx, s.Agent.Address, s.Agent.Token,
		protocol.ClientInfo{Name: "mirrord-intproxy", Version: version.Version})
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the agent: %w", err)
	}
	defer agent.Close()
	defer func() { ho.Finish(context.WithoutCancel(ctx), time.Now(), log, nil) }()

	cfg := intproxy.Config{Settings: s, Agent: agent, Log: log}
	if id := os.Getenv(envSessionID); id != "" {
		host, err := registerSession(ctx, id, s, ho)
		if err != nil {
			log.Warn("session registry", "err", err)
		} else {
			defer host.Close()
			cfg.Registry = host
		}
	}
	if supervise != "" {
		att, err := supervisor.ServeAttach(supervise, supervisor.Config{Intproxy: listen, Log: log})
		if err != nil {
			log.Warn("static and Go programs of editor launches will run without mirrord", "err", err)
		} else {
			defer att.Close()
		}
	}
	log.Info("serving layers", "socket", listen, "agent", s.Agent.Address)
	err = intproxy.Run(ctx, cfg, listen, func() { fmt.Fprintln(ready, intproxyReady) })
	if errors.Is(err, intproxy.ErrIdle) {
		log.Info("idle: exiting")
		err = nil
	}
	if dir := filepath.Dir(listen); strings.HasPrefix(filepath.Base(dir), "mirrord-session-") {
		_ = os.Remove(dir)
	}
	return err
}

func registerSession(ctx context.Context, id string, s settings.Settings, ho *handoff.Handoff) (*registry.Host, error) {
	dir, err := registry.DefaultDir(nil)
	if err != nil {
		return nil, err
	}
	target := s.Target
	if target == "" {
		target = "targetless"
	}
	info := registry.Info{
		ID:         id,
		Target:     target,
		StartedAt:  time.Now().UTC(),
		ConfigPath: os.Getenv(envConfigPath),
		Version:    version.Version,
		PID:        os.Getpid(),
		Agent:      s.Agent.Address,
	}
	ho.Describe(&info)
	return registry.Listen(ctx, dir, info)
}

// intproxyLogger logs to $MIRRORD_INTPROXY_LOG, or discards.
func intproxyLogger() (*slog.Logger, func(), error) {
	path := os.Getenv(envIntproxyLog)
	if path == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("intproxy log: %w", err)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), func() { f.Close() }, nil
}
