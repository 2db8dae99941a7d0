// Command mirrord is the command-line interface: verify-config, schema, ls,
// exec, ext, port-forward, session and the hidden intproxy.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mirrord",
		Short:         "Run a local process in the context of a Kubernetes pod",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each subcommand lives in its own file as newXxxCmd(); add it here.
	root.AddCommand(
		newSessionCmd(),
		newLsCmd(),
		newIntproxyCmd(),
		newExecCmd(),
		newExtCmd(),
		newVerifyConfigCmd(),
		newSchemaCmd(),
		newPortForwardCmd(),
		newClusterServeCmd(),
	)
	return root
}

func main() {
	// A re-execution that installs the seccomp filter and becomes the
	// program mirrord exec runs under the supervisor; never returns then.
	supervisor.MaybeInit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
