// Command mirrord-agent runs in (or next to) the target pod's namespaces and
// serves the agent protocol (docs/agent-protocol.md).
//
//	MIRRORD_AGENT_TOKEN=... mirrord-agent [targetless] [--listen HOST:PORT]
//	              [--token-file PATH] [--redirect auto|sk_lookup|iptables]
//	              [--pid N | --container-id ID | --netns PATH] [--root PATH]
//
// The session token comes from $MIRRORD_AGENT_TOKEN (in a cluster: from the
// session's Secret) or from --token-file, never from the command line,
// which every user of the node can read (ps).
//
// A targeted agent steers the target's connections with an eBPF sk_lookup
// program that the kernel detaches when the agent dies (or with iptables
// where the kernel lacks sk_lookup). It runs as a guard process that
// starts the real agent as a worker child and removes iptables chains
// however the worker ends.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/mirrord-ls/mirrord-ls/agent"
	"github.com/mirrord-ls/mirrord-ls/agent/target"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
)

type options struct {
	listen       string
	token        string
	tokenFile    string
	redirect     string
	pid          int
	containerID  string
	netnsPath    string
	root         string
	commTimeout  time.Duration
	linger       time.Duration
	handshake    time.Duration
	maxPending   int
	cleanOnStart bool
	ownerGID     int
	noGuard      bool
	logLevel     string
	targetless   bool
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	fs := pflag.NewFlagSet("mirrord-agent", pflag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:61337", "address clients connect to (HOST:PORT)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the session token clients must present (default: $"+tokenEnv+")")
	fs.StringVar(&o.redirect, "redirect", agent.RedirectAuto, "how incoming connections are steered to the agent: auto (sk_lookup, else iptables), sk_lookup or iptables")
	fs.IntVar(&o.pid, "pid", 0, "target process: its network namespace, root and environment")
	fs.StringVar(&o.containerID, "container-id", "", "target container, found by scanning /proc/*/cgroup")
	fs.StringVar(&o.netnsPath, "netns", "", "target network namespace file (with --root; for tests)")
	fs.StringVar(&o.root, "root", "", "target filesystem root (overrides /proc/PID/root)")
	fs.DurationVar(&o.commTimeout, "communication-timeout", 30*time.Second, "exit when no client connects within this time")
	fs.DurationVar(&o.linger, "linger", 0, "stay this long after the last client left")
	fs.DurationVar(&o.handshake, "handshake-timeout", agent.DefaultHandshakeTimeout, "close a connection that has not sent its hello within this time")
	fs.IntVar(&o.maxPending, "max-pending-handshakes", agent.DefaultMaxPending, "connections allowed in the handshake at once; beyond it the oldest is closed")
	fs.BoolVar(&o.cleanOnStart, "clean-iptables-on-start", false, "remove iptables chains of a previous agent instead of refusing to start")
	fs.IntVar(&o.ownerGID, "owner-gid", 0, "group the worker runs as, exempted from redirection (default: random)")
	fs.BoolVar(&o.noGuard, "no-guard", false, "do not start a guard process (iptables chains may outlive a killed agent)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "mirrord-agent:", err)
		return 2
	}
	for _, a := range fs.Args() {
		switch a {
		case "targetless":
			o.targetless = true
		case "targeted":
		default:
			fmt.Fprintf(os.Stderr, "mirrord-agent: unknown mode %q (want targetless or targeted)\n", a)
			return 2
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "mirrord-agent: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := o.readToken(os.Getenv(tokenEnv)); err != nil {
		log.Error(err.Error())
		return 2
	}
	if err := o.check(); err != nil {
		log.Error(err.Error())
		return 2
	}
	t, err := o.target()
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	worker := os.Getenv(agent.EnvWorker) == "1"
	if !o.targetless && !o.noGuard && !worker {
		gid := o.ownerGID
		if gid == 0 {
			gid = 3000 + rand.IntN(62000)
		}
		stop() // the guard forwards signals itself
		return agent.Guard(context.Background(), t, gid, log)
	}
	if worker {
		log = log.With("role", "worker")
	}
	gid, _ := strconv.Atoi(os.Getenv(agent.EnvOwnerGID))
	a, err := agent.New(ctx, agent.Config{
		Listen:               o.listen,
		Token:                o.token,
		Target:               t,
		Targetless:           o.targetless,
		CommunicationTimeout: o.commTimeout,
		Linger:               o.linger,
		HandshakeTimeout:     o.handshake,
		MaxPending:           o.maxPending,
		OwnerGID:             gid,
		CleanIPTablesOnStart: o.cleanOnStart,
		Redirect:             o.redirect,
		Version:              version.Version,
		Log:                  log,
	})
	if err != nil {
		log.Error(err.Error())
		if errors.Is(err, agent.ErrDirtyIPTables) {
			return agent.ExitDirty
		}
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error(err.Error())
		return 1
	}
	return 0
}

// tokenEnv is the variable the agent reads its session token from.
const tokenEnv = "MIRRORD_AGENT_TOKEN"

// readToken sets o.token from --token-file, else from env (the value of
// tokenEnv). There is no flag that takes the token itself: a command line
// is visible to every user of the machine (ps).
func (o *options) readToken(env string) error {
	switch {
	case o.tokenFile != "":
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		o.token = strings.TrimRight(string(data), "\r\n")
	default:
		o.token = env
	}
	return nil
}

func (o *options) check() error {
	if o.token == "" {
		return errors.New("no session token: set " + tokenEnv + " or pass --token-file")
	}
	switch o.redirect {
	case agent.RedirectAuto, agent.RedirectSkLookup, agent.RedirectIPTables:
	default:
		return fmt.Errorf("--redirect %q: want %s, %s or %s", o.redirect, agent.RedirectAuto, agent.RedirectSkLookup, agent.RedirectIPTables)
	}
	if o.handshake <= 0 {
		return fmt.Errorf("--handshake-timeout %s: want a positive duration", o.handshake)
	}
	if o.maxPending <= 0 {
		return fmt.Errorf("--max-pending-handshakes %d: want a positive number", o.maxPending)
	}
	n := 0
	for _, set := range []bool{o.pid != 0, o.containerID != "", o.netnsPath != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("--pid, --container-id and --netns exclude each other")
	}
	if o.targetless && n > 0 {
		return errors.New("targetless mode takes no --pid, --container-id or --netns")
	}
	if !o.targetless && n == 0 {
		return errors.New("no target: pass --pid, --container-id or --netns, or use targetless mode")
	}
	return nil
}

func (o *options) target() (target.Target, error) {
	switch {
	case o.targetless:
		t := target.Targetless()
		if o.root != "" {
			t.Root = o.root
		}
		return t, nil
	case o.containerID != "":
		pid, err := target.FindContainerPID("/proc", o.containerID)
		if err != nil {
			return target.Target{}, err
		}
		t, err := target.FromPID(pid, o.root)
		if err != nil {
			return target.Target{}, err
		}
		_, id, found := strings.Cut(o.containerID, "://")
		if !found {
			id = o.containerID
		}
		short := target.ShortID(id)
		t.ID = "c" + short[:min(12, len(short))]
		return t, nil
	case o.pid != 0:
		return target.FromPID(o.pid, o.root)
	default:
		return target.FromPaths(o.netnsPath, o.root)
	}
}
