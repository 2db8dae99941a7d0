package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/layer/envmerge"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// envLayerFile overrides where the layer library is looked for.
const envLayerFile = "MIRRORD_LAYER_FILE"

func newExecCmd() *cobra.Command {
	var configPath, target string
	cmd := &cobra.Command{
		Use:   "exec [-f CONFIG] [-t TARGET] -- COMMAND [ARGS...]",
		Short: "Run a command with the target's environment, DNS, network and files",
		Long: `Run COMMAND locally as if it ran in the target: with its environment,
its DNS, its outgoing network, its files (read mode by default) and its
mirrored or stolen incoming traffic.

The agent must already be running: set agent.address (HOST:PORT) and
agent.token in the config, or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN.
The exit code is the command's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				configPath = os.Getenv(envConfigPath)
			}
			code, err := runExec(cmd.Context(), configPath, target, args, cmd.ErrOrStderr())
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
	cmd.Flags().StringVarP(&configPath, "config-file", "f", "", "mirrord config file (JSON, YAML or TOML; default $"+envConfigPath+")")
	cmd.Flags().StringVarP(&target, "target", "t", "", "target path, e.g. pod/NAME (informational with a pre-started agent)")
	return cmd
}

// execSettings resolves the settings of an exec run with the config engine
// (templates, environment overrides, validation); warnings go to warn.
func execSettings(ctx context.Context, configPath, target string, warn io.Writer) (settings.Settings, error) {
	lookup := os.LookupEnv
	if target != "" {
		// -t overrides the file's target as MIRRORD_IMPERSONATED_TARGET does
		lookup = func(k string) (string, bool) {
			if k == "MIRRORD_IMPERSONATED_TARGET" {
				return target, true
			}
			return os.LookupEnv(k)
		}
	}
	s, warns, err := settings.Load(ctx, configPath, lookup)
	for _, w := range warns {
		fmt.Fprintf(warn, "* warning: %s\n", w)
	}
	if err != nil {
		return s, err
	}
	if target != "" {
		s.Target = target
	}
	if s.Agent.Address == "" {
		return s, errors.New("no agent to connect to: set agent.address and agent.token in the config, " +
			"or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN (mirrord exec does not create agents yet)")
	}
	return s, nil
}

func runExec(ctx context.Context, configPath, target string, args []string, stderr io.Writer) (int, error) {
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "* "+format+"\n", a...) }
	s, err := execSettings(ctx, configPath, target, stderr)
	if err != nil {
		return 0, err
	}
	layer, err := findLayer()
	if err != nil {
		return 0, err
	}
	bin, err := exec.LookPath(args[0])
	if err != nil {
		return 0, fmt.Errorf("command %q: %w", args[0], err)
	}
	if w := binaryWarning(bin); w != "" {
		progress("warning: %s", w)
	}

	progress("connecting to the agent at %s", s.Agent.Address)
	agent, err := dialAgent(ctx, s)
	if err != nil {
		return 0, err
	}
	// Our connection keeps the agent alive until the intproxy has its own.
	defer agent.Close()
	w := agent.Welcome()
	s.Targetless = !w.Has(protocol.CapSteal) && !w.Has(protocol.CapMirror)
	merged, err := remoteEnvironment(ctx, agent, s)
	if err != nil {
		return 0, err
	}
	progress("environment: %d variables from the target", len(merged.Set))

	id, sock, logPath, err := startIntproxy(ctx, s, configPath)
	if err != nil {
		return 0, err
	}
	agent.Close()
	progress("session %s ready (intproxy log: %s)", id, logPath)

	env := envmerge.Apply(os.Environ(), merged)
	env = setEnv(env, "LD_PRELOAD", prependList(layer, os.Getenv("LD_PRELOAD")))
	env = setEnv(env, envLayerAddr, sock)
	env = setEnv(env, envSessionID, id)

	child := exec.Command(bin, args[1:]...)
	child.Args[0] = args[0]
	child.Env = env
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", args[0], err)
	}
	// SIGINT reaches the child from the terminal; forward the others.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = child.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = child.Wait()
	close(done)
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

func dialAgent(ctx context.Context, s settings.Settings) (*protocol.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	agent, err := protocol.Dial(dctx, s.Agent.Address, protocol.Options{
		Token: s.Agent.Token,
		Info:  protocol.ClientInfo{Name: "mirrord-exec", Version: version.Version},
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n  is the agent running at %s, and is agent.token (MIRRORD_AGENT_TOKEN) its token?", err, s.Agent.Address)
	}
	return agent, nil
}

// remoteEnvironment fetches and merges the target's environment.
func remoteEnvironment(ctx context.Context, agent *protocol.Client, s settings.Settings) (envmerge.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	remote := map[string]string{}
	if !s.Env.Disabled {
		var err error
		if remote, err = agent.Env(ctx, protocol.EnvRequest{Include: s.Env.Include, Exclude: s.Env.Exclude}); err != nil {
			return envmerge.Result{}, fmt.Errorf("fetch the target's environment: %w", err)
		}
	}
	return envmerge.Merge(remote, s.Env, nil)
}

// startIntproxy starts `mirrord intproxy` detached (it outlives this
// command until its last layer leaves) and waits until it serves.
func startIntproxy(ctx context.Context, s settings.Settings, configPath string) (id, sock, logPath string, err error) {
	raw := make([]byte, 6)
	_, _ = rand.Read(raw)
	id = hex.EncodeToString(raw)
	dir, err := os.MkdirTemp("", "mirrord-session-")
	if err != nil {
		return "", "", "", fmt.Errorf("session directory: %w", err)
	}
	sock = filepath.Join(dir, "layer.sock")
	logPath = os.Getenv(envIntproxyLog)
	if logPath == "" {
		logPath = filepath.Join(os.TempDir(), "mirrord-intproxy-"+id+".log")
	}
	enc, err := s.Encode()
	if err != nil {
		return "", "", "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", "", "", fmt.Errorf("find the mirrord binary: %w", err)
	}
	cmd := exec.Command(self, "intproxy", "--listen", sock)
	env := withoutEnv(os.Environ(), "LD_PRELOAD")
	env = setEnv(env, settings.EnvVar, enc)
	env = setEnv(env, envSessionID, id)
	env = setEnv(env, envIntproxyLog, logPath)
	if configPath != "" {
		if abs, err := filepath.Abs(configPath); err == nil {
			env = setEnv(env, envConfigPath, abs)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", "", fmt.Errorf("intproxy pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", "", "", fmt.Errorf("start the intproxy: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if l != intproxyReady {
			_ = cmd.Wait()
			os.RemoveAll(dir)
			msg := strings.TrimPrefix(l, intproxyFailure)
			if msg == "" {
				msg = "it exited without a word"
			}
			return "", "", "", fmt.Errorf("the intproxy failed: %s (log: %s)", msg, logPath)
		}
	case <-time.After(45 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
		return "", "", "", fmt.Errorf("the intproxy did not start within 45s (log: %s)", logPath)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
		return "", "", "", ctx.Err()
	}
	go func() { _ = cmd.Wait() }() // reap it if it ends before we do
	return id, sock, logPath, nil
}

// findLayer locates libmirrord_layer.so: $MIRRORD_LAYER_FILE, or next to the
// mirrord binary.
func findLayer() (string, error) {
	if p := os.Getenv(envLayerFile); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", envLayerFile, err)
		}
		return p, nil
	}
	self, err := os.Executable()
	if err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), "libmirrord_layer.so")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the layer library libmirrord_layer.so is not next to the mirrord binary: build it with `make bin/libmirrord_layer.so` or set %s", envLayerFile)
}

// binaryWarning explains what the layer cannot do for bin.
func binaryWarning(bin string) string {
	f, err := elf.Open(bin)
	if err != nil {
		return "" // a script: its interpreter is what runs
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			dynamic = true
		}
	}
	if !dynamic {
		return bin + " is statically linked: the layer cannot load into it, only the environment applies (docs/layer.md)"
	}
	if f.Section(".go.buildinfo") != nil {
		return bin + " is a Go program: it makes system calls without libc, so its files and sockets bypass the layer; the environment (and DNS with the cgo resolver) still applies (docs/layer.md)"
	}
	return ""
}

func setEnv(env []string, key, value string) []string {
	return append(withoutEnv(env, key), key+"="+value)
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func prependList(first, rest string) string {
	if rest == "" {
		return first
	}
	return first + ":" + rest
}
