package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

func newSessionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "session",
		Aliases: []string{"sessions"},
		Short:   "List and stop local mirrord sessions",
	}
	cmd.AddCommand(newSessionLsCmd(), newSessionStopCmd())
	return cmd
}

func sessionDir() (string, error) { return registry.DefaultDir(nil) }

func newSessionLsCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List local sessions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := sessionDir()
			if err != nil {
				return err
			}
			sessions, err := registry.List(cmd.Context(), dir)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				if sessions == nil {
					sessions = []registry.Info{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sessions)
			case "table", "":
				return printSessionTable(cmd.OutOrStdout(), sessions, time.Now())
			default:
				return fmt.Errorf("unknown output format %q: use table or json", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printSessionTable(w io.Writer, sessions []registry.Info, now time.Time) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(w, "No local mirrord sessions.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION ID\tTARGET\tNAMESPACE\tBRANCH\tPROCESSES\tPORTS\tUP")
	for _, s := range sessions {
		var procs []string
		for _, p := range s.Processes {
			procs = append(procs, fmt.Sprintf("%s(%d)", p.Name, p.PID))
		}
		var ports []string
		for _, p := range s.PortSubscriptions {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Mode))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, dash(s.Target), dash(s.Namespace), dash(s.Branch),
			dash(strings.Join(procs, ",")), dash(strings.Join(ports, ",")), now.Sub(s.StartedAt).Round(time.Second))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newSessionStopCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "stop [ID...]",
		Aliases: []string{"kill", "delete"},
		Short:   "Stop sessions by id, or all with --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("give session ids or --all (not both)")
			}
			dir, err := sessionDir()
			if err != nil {
				return err
			}
			ids := args
			if all {
				sessions, err := registry.List(cmd.Context(), dir)
				if err != nil {
					return err
				}
				for _, s := range sessions {
					ids = append(ids, s.ID)
				}
				if len(ids) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "No local mirrord sessions.")
					return nil
				}
			}
			var failed []string
			for _, id := range ids {
				if err := registry.Kill(cmd.Context(), dir, id); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					failed = append(failed, id)
					continue
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "stopping session %s\n", id)
			}
			if len(failed) > 0 {
				return fmt.Errorf("could not stop %s; `mirrord session ls` shows the live sessions", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "stop every local session")
	return cmd
}
