package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/mirrord-ls/mirrord-ls/agent/incoming"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/agent/target"
)

// Environment of the worker process started by the guard.
const (
	// EnvWorker marks the worker; its presence disables the guard.
	EnvWorker = "MIRRORD_AGENT_WORKER"
	// EnvOwnerGID passes the worker's group to its iptables owner rule.
	EnvOwnerGID = "MIRRORD_AGENT_OWNER_GID"
)

// ExitDirty is the exit code when chains of a previous agent exist; the
// guard does not clean up after it (the chains are not its own).
const ExitDirty = 99

// Guard runs the agent as a worker child process (this executable with the
// same arguments, EnvWorker set and group gid) and removes the worker's
// iptables chains once it exits, however it exits: normally, by a signal
// forwarded from the guard, or killed with SIGKILL. It returns the exit
// code to exit with.
func Guard(ctx context.Context, t target.Target, gid int, log *slog.Logger) int {
	exe, err := os.Executable()
	if err != nil {
		log.Error("find own executable", "err", err)
		return 1
	}
	// Open the namespace now: /proc/PID/ns/net vanishes with the target.
	ns, err := netns.Open(t.NetnsPath)
	if err != nil {
		log.Error("guard: open target network namespace", "err", err)
		return 1
	}
	defer ns.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), EnvWorker+"=1", fmt.Sprintf("%s=%d", EnvOwnerGID, gid))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(os.Geteuid()), Gid: uint32(gid), NoSetGroups: true},
		Pdeathsig:  syscall.SIGKILL,
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		log.Error("start agent worker", "err", err)
		return 1
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
loop:
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case werr = <-waited:
			break loop
		}
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	} else if werr != nil {
		code = 1
	}
	if code == ExitDirty {
		return code
	}
	if err := incoming.NewIPTables(ns, t.ID, gid).Remove(context.Background()); err != nil {
		log.Error("guard: remove iptables chains", "err", err)
		return max(code, 1)
	}
	return code
}
