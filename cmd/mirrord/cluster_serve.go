package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/kube/catalog"
	"github.com/mirrord-ls/mirrord-ls/kube/clusterserve"
)

// newClusterServeCmd is the cluster helper of mirrord-ls: the language
// server starts it on its first cluster question and talks to it over
// stdin/stdout (internal/clusterrpc, docs/protocol.md). It holds the
// client-go target cache, so the language server does not link client-go.
// It exits when stdin closes.
func newClusterServeCmd() *cobra.Command {
	var (
		stdio            bool
		syncTimeout      time.Duration
		completionBudget time.Duration
	)
	cmd := &cobra.Command{
		Use:    "cluster-serve --stdio",
		Short:  "Answer mirrord-ls's cluster questions over stdin/stdout (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stdio {
				return errors.New("cluster-serve: --stdio is required")
			}
			// stdout belongs to the protocol: anything else that prints
			// goes to stderr.
			out := os.Stdout
			os.Stdout = os.Stderr
			cat := catalog.New(catalog.Options{LookupEnv: os.LookupEnv})
			defer cat.Close()
			p := clusterserve.New(cat, clusterserve.Options{
				SyncTimeout: syncTimeout, CompletionBudget: completionBudget, LookupEnv: os.LookupEnv,
			})
			if err := clusterserve.Serve(cmd.Context(), stdioConn{in: pollableStdin(), out: out}, p); err != nil {
				return fmt.Errorf("cluster-serve: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&stdio, "stdio", false, "serve on stdin/stdout (required)")
	cmd.Flags().DurationVar(&syncTimeout, "sync-timeout", 20*time.Second, "how long listTargets waits for a namespace's first sync")
	cmd.Flags().DurationVar(&completionBudget, "completion-budget", 300*time.Millisecond, "how long a completion waits on the cluster")
	return cmd
}

// pollableStdin returns stdin registered with Go's poller when it is a
// pipe, so closing it interrupts a pending read.
func pollableStdin() *os.File {
	if err := syscall.SetNonblock(syscall.Stdin, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(uintptr(syscall.Stdin), "/dev/stdin")
}

// stdioConn is stdin and stdout as one stream.
type stdioConn struct{ in, out *os.File }

func (c stdioConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c stdioConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c stdioConn) Close() error                { return errors.Join(c.in.Close(), c.out.Close()) }
