// Command mirrord-ls is the language server for mirrord config files and
// the backend of the mirrord editor extensions:
//
//	mirrord-ls --stdio [--log-file PATH] [--log-level debug|info|warn|error] [--mirrord PATH]
//	mirrord-ls --version
//
// It speaks JSON-RPC 2.0 with LSP framing on stdin/stdout. Logs go to the
// log file and to the editor (window/logMessage), never to stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/kubetargets"
	"github.com/mirrord-ls/mirrord-ls/session/extclient"
)

// The session client is what the server starts, lists and stops sessions
// with, watches them through, and detects git branches with.
var (
	_ server.SessionManager = (*extclient.Client)(nil)
	_ server.SessionWatcher = (*extclient.Client)(nil)
	_ server.BranchDetector = (*extclient.Client)(nil)
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("mirrord-ls", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	stdio := fs.Bool("stdio", false, "serve the language server protocol on stdin/stdout")
	showVersion := fs.Bool("version", false, "print the version and exit")
	logFile := fs.String("log-file", "", "append the server log to this file")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	mirrordCLI := fs.String("mirrord", "", "the mirrord CLI that serves cluster features (default: next to mirrord-ls, else on PATH)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mirrord-ls --stdio [--log-file PATH] [--log-level LEVEL] [--mirrord PATH] | --version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Printf("mirrord-ls %s\n", version.Version)
		return 0
	}
	if !*stdio {
		fs.Usage()
		return 2
	}
	level, err := parseLevel(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mirrord-ls:", err)
		return 2
	}
	var logw io.Writer
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mirrord-ls: opening the log file:", err)
			return 2
		}
		defer f.Close()
		logw = f
	}

	// stdout belongs to the protocol: anything else that prints goes to
	// stderr.
	protocolOut := os.Stdout
	os.Stdout = os.Stderr

	// Cluster features go through one helper process (`mirrord
	// cluster-serve`), started on the first cluster question and stopped
	// on exit, so this binary does not link client-go.
	cluster := kubetargets.New(kubetargets.Options{Mirrord: *mirrordCLI})
	defer cluster.Close()
	srv, err := server.New(server.Options{
		Version: version.Version, Log: logw, LogLevel: level,
		Cluster: cluster, Targets: cluster,
		Sessions: extclient.New(extclient.Options{Mirrord: *mirrordCLI, LookupEnv: os.LookupEnv}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mirrord-ls:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	in := pollableStdin()
	return srv.Serve(ctx, in, protocolOut, stdioCloser{in, protocolOut})
}

// pollableStdin returns stdin registered with Go's poller when it is a
// pipe or terminal, so closing it interrupts a pending read and the server
// exits at once after the exit notification.
func pollableStdin() *os.File {
	if err := syscall.SetNonblock(syscall.Stdin, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(uintptr(syscall.Stdin), "/dev/stdin")
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
}

type stdioCloser struct{ in, out *os.File }

func (c stdioCloser) Close() error {
	return errors.Join(c.in.Close(), c.out.Close())
}
