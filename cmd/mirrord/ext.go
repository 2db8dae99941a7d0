package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/session"
)

// extRootTask is the root task's title; editors find the result by it
// (reference ide-contract.md §3.4), so it must never change.
const extRootTask = "mirrord preparing to launch"

func newExtCmd() *cobra.Command {
	var (
		f          sessionFlags
		executable string
	)
	cmd := &cobra.Command{
		Use:   "ext [-f CONFIG] [-t TARGET] [-e EXECUTABLE] [flags]",
		Short: "Start a session for an editor and print the launch environment",
		Long: `Start a session (agent, internal proxy) and print the environment the
editor launches the debuggee with, then exit; the session's internal proxy
lives on until the debuggee's last process leaves (or ` + "`mirrord session stop`" + `).

With MIRRORD_PROGRESS_MODE=json, stdout carries one JSON progress object per
line (NewTask, FinishedTask, Warning, Info); the last is the FinishedTask of
"` + extRootTask + `" whose message is the MirrordExecution as a JSON string.
Errors are one line "Error: {json}" on stderr. Otherwise progress goes to
stderr and the MirrordExecution JSON to stdout. See docs/sessions.md.

Flags override MIRRORD_* variables, which override the config file.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			json := strings.EqualFold(os.Getenv("MIRRORD_PROGRESS_MODE"), "json")
			req := f.request()
			req.Executable = executable
			code := runExt(cmd, req, json, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	f.register(cmd.Flags(), sessionFlagSet{fsMode: true})
	cmd.Flags().StringVarP(&executable, "executable", "e", "", "the program the editor will launch (checked for layer support)")
	return cmd
}

// Progress lines of the official CLI's JSON mode.
type (
	extNewTask struct {
		Type   string  `json:"type"`
		Name   string  `json:"name"`
		Parent *string `json:"parent"`
	}
	extFinishedTask struct {
		Type    string  `json:"type"`
		Name    string  `json:"name"`
		Success bool    `json:"success"`
		Message *string `json:"message"`
	}
	extMessage struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	// extExecution is MirrordExecution.
	extExecution struct {
		Environment  map[string]string `json:"environment"`
		PatchedPath  *string           `json:"patched_path"`
		EnvToUnset   []string          `json:"env_to_unset"`
		UsesOperator bool              `json:"uses_operator"`
	}
	// extError is miette's JSON report.
	extError struct {
		Message  string   `json:"message"`
		Severity string   `json:"severity"`
		Causes   []string `json:"causes"`
		Help     string   `json:"help,omitempty"`
		Labels   []any    `json:"labels"`
		Related  []any    `json:"related"`
	}
)

// runExt starts the session and prints the contract; it returns the exit code.
func runExt(cmd *cobra.Command, req session.Request, jsonMode bool, stdout, stderr io.Writer) int {
	line := func(v any) {
		b, err := json.Marshal(v)
		if err == nil {
			fmt.Fprintf(stdout, "%s\n", b)
		}
	}
	root := extRootTask
	if jsonMode {
		line(extNewTask{Type: "NewTask", Name: root})
	}
	req.Progress = func(e session.Event) {
		if !jsonMode {
			switch e.Kind {
			case session.TaskFinished:
				if e.Success {
					fmt.Fprintf(stderr, "* %s: %s\n", e.Task, e.Message)
				}
			case session.Warning:
				fmt.Fprintf(stderr, "* warning: %s\n", e.Message)
			case session.Info:
				fmt.Fprintf(stderr, "* %s\n", e.Message)
			}
			return
		}
		switch e.Kind {
		case session.TaskStarted:
			line(extNewTask{Type: "NewTask", Name: e.Task, Parent: &root})
		case session.TaskFinished:
			var msg *string
			if e.Success {
				msg = &e.Message
			}
			line(extFinishedTask{Type: "FinishedTask", Name: e.Task, Success: e.Success, Message: msg})
		case session.Warning:
			line(extMessage{Type: "Warning", Message: e.Message})
		case session.Info:
			line(extMessage{Type: "Info", Message: e.Message})
		}
	}
	launch, err := session.Start(cmd.Context(), req)
	if err != nil {
		if jsonMode {
			line(extFinishedTask{Type: "FinishedTask", Name: root})
		}
		report := extError{Message: err.Error(), Severity: "error", Causes: []string{}, Labels: []any{}, Related: []any{}}
		var se *session.Error
		if errors.As(err, &se) {
			report.Message, report.Help = se.Message, se.Help
			if c := se.Causes(); c != nil {
				report.Causes = c
			}
		}
		b, _ := json.Marshal(report)
		fmt.Fprintf(stderr, "Error: %s\n", b)
		return 1
	}
	exec, err := json.Marshal(extExecution{Environment: launch.Environment, EnvToUnset: launch.EnvToUnset})
	if err != nil {
		fmt.Fprintf(stderr, "Error: {\"message\":%q,\"severity\":\"error\",\"causes\":[],\"labels\":[],\"related\":[]}\n", err.Error())
		return 1
	}
	msg := string(exec)
	if jsonMode {
		line(extFinishedTask{Type: "FinishedTask", Name: root, Success: true, Message: &msg})
	} else {
		fmt.Fprintln(stdout, msg)
	}
	return 0
}
