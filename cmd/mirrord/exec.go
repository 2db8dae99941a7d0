package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/mirrord-ls/mirrord-ls/session"
)

// execEndTimeout bounds ending the session after the command: the
// intproxy deletes the agent (15 s at most) and reports to Jira (15 s).
const execEndTimeout = 40 * time.Second

func newExecCmd() *cobra.Command {
	var f sessionFlags
	cmd := &cobra.Command{
		Use:   "exec [-f CONFIG] [-t TARGET] [flags] -- COMMAND [ARGS...]",
		Short: "Run a command with the target's environment, DNS, network and files",
		Long: `Run COMMAND locally as if it ran in the target: with its environment,
its DNS, its outgoing network, its files (read mode by default) and its
mirrored or stolen incoming traffic.

The session is started as for editors (docs/sessions.md): the target is
resolved, an agent is created in the cluster (a Job on the target's node,
an ephemeral container with --ephemeral-container, a plain Job when
targetless) or a pre-started one is used (agent.address and agent.token,
or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN), the target's environment
is fetched and the session's internal proxy started. When COMMAND exits
(or mirrord exec is interrupted) the session ends and the agent is deleted.
The exit code is the command's (128+N when signal N ended it).

Flags override MIRRORD_* variables, which override the config file.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runExec(cmd.Context(), f.request(), args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f.register(cmd.Flags(), sessionFlagSet{fsMode: true, ephemeralShort: true})
	return cmd
}

// runExec starts the session, runs the command in it and ends the session
// when the command exits; it returns the command's exit code.
func runExec(ctx context.Context, req session.Request, args []string, stderr io.Writer) (int, error) {
	bin, err := exec.LookPath(args[0])
	if err != nil {
		return 0, fmt.Errorf("command %q: %w", args[0], err)
	}
	// No req.Executable: the warning about programs LD_PRELOAD cannot
	// reach is replaced by the choice of the supervisor below.
	t0 := time.Now()
	req.Progress = execProgress(stderr, t0)
	launch, err := session.Start(ctx, req)
	if err != nil {
		return 0, explain(err)
	}
	end := func() {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execEndTimeout)
		defer cancel()
		if err := launch.End(ectx); err != nil {
			fmt.Fprintf(stderr, "* warning: ending session %s: %v\n", launch.SessionID, err)
		}
	}
	if ctx.Err() != nil { // interrupted right after the start
		end()
		return 130, nil
	}
	fmt.Fprintf(stderr, "* session %s ready [%s] (intproxy log: %s)\n", launch.SessionID, elapsed(t0), launch.IntproxyLog)
	mode, err := layerMode(launch)
	if err != nil {
		end()
		return 0, err
	}
	useSupervisor, note := chooseSupervisor(mode, bin)
	if note != "" {
		fmt.Fprintf(stderr, "* %s\n", note)
	}

	child := exec.Command(bin, args[1:]...)
	child.Args[0] = args[0]
	child.Env = launch.Env(os.Environ())
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Signals for the command; registered before it starts so none is
	// lost, and on top of main's SIGINT/SIGTERM handling, which only
	// cancels ctx (this process must outlive the command to end the session).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	stopSupervisor := func() {}
	if useSupervisor {
		stopSupervisor, err = startSupervised(child, launch, stderr)
	} else {
		err = child.Start()
	}
	if err != nil {
		end()
		return 0, fmt.Errorf("start %s: %w", args[0], err)
	}
	done := make(chan struct{})
	go forwardSignals(sigs, child.Process, done)
	err = child.Wait()
	close(done)
	stopSupervisor()
	end()

	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("wait for %s: %w", args[0], err)
	}
	return 0, nil
}

// forwardSignals passes the signals mirrord exec receives on to the
// command until done. Ctrl-C in a terminal already reached the command
// (the terminal signals the whole foreground process group), so SIGINT is
// forwarded only when this process is not in the terminal's foreground
// group (e.g. `kill -INT` from a script, or no terminal at all).
func forwardSignals(sigs <-chan os.Signal, p *os.Process, done <-chan struct{}) {
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGINT && terminalSignalsGroup() {
				continue
			}
			_ = p.Signal(sig)
		case <-done:
			return
		}
	}
}

// terminalSignalsGroup reports whether stdin is a terminal whose
// foreground process group is this process's.
func terminalSignalsGroup() bool {
	pgrp, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// execProgress prints each step of the session start on stderr with the
// time since mirrord exec began, in lines like
// "* resolving target: pod/api-7c9d8-x2x4q/container/app [0.12s]".
func execProgress(w io.Writer, t0 time.Time) session.ProgressFunc {
	return func(e session.Event) {
		switch e.Kind {
		case session.TaskFinished:
			if e.Success {
				fmt.Fprintf(w, "* %s: %s [%s]\n", e.Task, e.Message, elapsed(t0))
			} else {
				fmt.Fprintf(w, "* %s failed [%s]\n", e.Task, elapsed(t0))
			}
		case session.TaskProgress:
			fmt.Fprintf(w, "* %s: %s [%s]\n", e.Task, e.Message, elapsed(t0))
		case session.Warning:
			fmt.Fprintf(w, "* warning: %s\n", e.Message)
		case session.Info:
			fmt.Fprintf(w, "* %s\n", e.Message)
		}
	}
}

func elapsed(t0 time.Time) string {
	return fmt.Sprintf("%.2fs", time.Since(t0).Seconds())
}

// explain turns a session error into the CLI's message: the error, then
// its hint on a line of its own.
func explain(err error) error {
	var se *session.Error
	if !errors.As(err, &se) || se.Help == "" {
		return err
	}
	return &helpError{err: err, help: se.Help}
}

// helpError is an error with a hint for the user.
type helpError struct {
	err  error
	help string
}

func (e *helpError) Error() string {
	return e.err.Error() + "\n  help: " + strings.TrimSpace(e.help)
}

func (e *helpError) Unwrap() error { return e.err }
