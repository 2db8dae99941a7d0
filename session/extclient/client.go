// Package extclient is mirrord-ls's session manager: it starts a session by
// running `mirrord ext` as a child process and reading its JSON progress
// lines exactly as the official editor extensions do, so a session started
// from the editor is the CLI's one implementation. Listing, stopping and
// watching sessions go straight to the session registry (Unix sockets in
// the per-user session directory). Nothing here links the Kubernetes
// client, which keeps mirrord-ls small and quick to start.
package extclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
)

// Options configure a Client.
type Options struct {
	// Mirrord is the mirrord binary (mirrord-ls --mirrord); "":
	// $MIRRORD_CLI_PATH, else `mirrord` next to this executable, else on
	// PATH.
	Mirrord string
	// LookupEnv reads the server's environment; nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Environ is the server's environment the child starts from; nil:
	// os.Environ.
	Environ func() []string
	// StartTimeout bounds a whole `mirrord ext` run; 0: 5 minutes (the
	// agent's own startup timeout is usually shorter and reported better).
	StartTimeout time.Duration
	// PollInterval of Watch; 0: 500 ms.
	PollInterval time.Duration
}

// Client implements the server's SessionManager (and the session watcher and
// branch detector the server uses when present).
type Client struct{ opts Options }

var errMirrordNotFound = errors.New("the mirrord CLI was not found (next to mirrord-ls, on PATH, or $MIRRORD_CLI_PATH)")

const (
	envCLIPath            = "MIRRORD_CLI_PATH"
	envProgressMode       = "MIRRORD_PROGRESS_MODE"
	envProgressSupportIDE = "MIRRORD_PROGRESS_SUPPORT_IDE"
	envIDEName            = "MIRRORD_IDE_NAME"
	envBranchName         = "MIRRORD_BRANCH_NAME"
	envSessionID          = "MIRRORD_SESSION_ID"
	sessionIDPrefix       = "session ID: "

	defaultStartTimeout = 5 * time.Minute
	defaultPollInterval = 500 * time.Millisecond
	// stopGrace is how long a stopped child may take to tear down.
	stopGrace = 10 * time.Second
	// stderrLimit bounds the stderr kept for the error report.
	stderrLimit = 1 << 20
)

// New returns a Client.
func New(opts Options) *Client {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	return &Client{opts: opts}
}

// mirrordPath finds the mirrord CLI.
func (c *Client) mirrordPath() (string, error) {
	if c.opts.Mirrord != "" {
		return c.opts.Mirrord, nil
	}
	if p, ok := c.opts.LookupEnv(envCLIPath); ok && p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "mirrord")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("mirrord")
	if err != nil {
		return "", errMirrordNotFound
	}
	return p, nil
}

// lookup layers the launch environment over the server's.
func (c *Client) lookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return c.opts.LookupEnv(name)
	}
}

// sessionsDir is the registry directory the launch environment names.
func (c *Client) sessionsDir(env map[string]string) (string, error) {
	return registry.DefaultDir(c.lookup(env))
}

// childEnv is the server's environment, the launch environment over it,
// and the progress settings of the IDE contract.
func (c *Client) childEnv(ctx context.Context, p sessionapi.StartSessionParams) []string {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range c.opts.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			set(k, v)
		}
	}
	for k, v := range p.Env {
		set(k, v)
	}
	set(envProgressMode, "json")
	set(envProgressSupportIDE, "true")
	if p.ClientName != "" {
		set(envIDEName, p.ClientName)
	}
	if _, ok := vars[envBranchName]; !ok && p.WorkspaceFolder != "" {
		if info, err := branch.Detect(ctx, p.WorkspaceFolder, branch.Options{}); err == nil && info.Branch != "" {
			set(envBranchName, info.Branch)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// StartSession runs `mirrord ext` and returns its launch environment.
// progress receives one message per step; cancelling ctx stops the child
// and the session it may already have registered.
func (c *Client) StartSession(ctx context.Context, p sessionapi.StartSessionParams, progress func(string)) (sessionapi.LaunchEnvironment, error) {
	bin, err := c.mirrordPath()
	if err != nil {
		return sessionapi.LaunchEnvironment{}, err
	}
	args := []string{"ext"}
	if p.ConfigPath != "" {
		args = append(args, "-f", p.ConfigPath)
	}
	if p.Target != "" {
		args = append(args, "-t", p.Target)
	}
	if p.Executable != "" {
		args = append(args, "-e", p.Executable)
	}
	runCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	cmd := exec.Command(bin, args...)
	cmd.Env = c.childEnv(ctx, p)
	cmd.Dir = p.WorkspaceFolder
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A pipe of our own: the session's intproxy may outlive mirrord ext,
	// so Wait must not wait for stdout to close.
	stdout, w, err := os.Pipe()
	if err != nil {
		return sessionapi.LaunchEnvironment{}, fmt.Errorf("mirrord ext: %w", err)
	}
	defer stdout.Close()
	cmd.Stdout = w
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	w.Close()
	if err != nil {
		return sessionapi.LaunchEnvironment{}, fmt.Errorf("starting %s: %w", bin, err)
	}

	var (
		mu        sync.Mutex
		sessionID string
		warnings  = []string{}
	)
	report := func(msg string) {
		if progress != nil && msg != "" {
			progress(msg)
		}
	}
	done := make(chan outcome, 1)
	go func() {
		ex, err := ReadProgress(stdout, func(l Line) {
			switch l.Type {
			case "NewTask":
				if l.Name != RootTask {
					report(l.Name)
				}
			case "FinishedTask":
				if l.Name == RootTask {
					return
				}
				switch {
				case l.Success == nil || !*l.Success:
					report(l.Name + ": failed")
				case l.Text() != "":
					report(l.Name + ": " + l.Text())
				default:
					report(l.Name)
				}
			case "Warning":
				mu.Lock()
				warnings = append(warnings, l.Text())
				mu.Unlock()
				report("warning: " + l.Text())
			case "Info", "IdeMessage":
				t := l.Text()
				if id, ok := strings.CutPrefix(t, sessionIDPrefix); ok {
					mu.Lock()
					sessionID = strings.TrimSpace(id)
					mu.Unlock()
				}
				report(t)
			}
		})
		done <- outcome{ex, err}
		// Drain the rest so the child never blocks on a full pipe; ends
		// when the pipe is closed.
		_, _ = io.Copy(io.Discard, stdout)
	}()

	var out outcome
	select {
	case out = <-done:
	case <-runCtx.Done():
		abort(cmd)
		mu.Lock()
		id := sessionID
		mu.Unlock()
		c.stopRegistered(p.Env, id)
		if ctx.Err() != nil {
			return sessionapi.LaunchEnvironment{}, ctx.Err()
		}
		return sessionapi.LaunchEnvironment{}, fmt.Errorf("mirrord ext did not finish within %s", c.opts.StartTimeout)
	}
	waitErr := waitChild(cmd, stopGrace)
	if out.err != nil {
		if report := ParseError(stderr.Bytes()); report != nil {
			return sessionapi.LaunchEnvironment{}, &sessionapi.SessionError{Message: report.Message, Causes: report.Causes, Help: report.Help}
		}
		msg := strings.TrimSpace(stderr.String())
		if waitErr != nil {
			msg = strings.TrimSpace(waitErr.Error() + "\n" + msg)
		}
		if msg == "" {
			return sessionapi.LaunchEnvironment{}, fmt.Errorf("mirrord ext: %w", out.err)
		}
		return sessionapi.LaunchEnvironment{}, fmt.Errorf("mirrord ext: %w: %s", out.err, lastLines(msg, 5))
	}
	mu.Lock()
	defer mu.Unlock()
	id := sessionID
	if id == "" {
		id = out.exec.Environment[envSessionID]
	}
	unset := out.exec.EnvToUnset
	if unset == nil {
		unset = []string{}
	}
	return sessionapi.LaunchEnvironment{SessionID: id, Environment: out.exec.Environment, EnvToUnset: unset, Warnings: warnings}, nil
}

// outcome is what the stdout reader found.
type outcome struct {
	exec *Execution
	err  error
}

// abort stops the child: SIGTERM to its process group (mirrord ext tears
// down what it started), SIGKILL after a grace period.
func abort(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// waitChild waits for mirrord ext to exit after its last line.
func waitChild(cmd *exec.Cmd, grace time.Duration) error {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return <-exited
	}
}

// stopRegistered stops a session that registered before the start was
// cancelled.
func (c *Client) stopRegistered(env map[string]string, id string) {
	if id == "" {
		return
	}
	dir, err := c.sessionsDir(env)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	_ = registry.Kill(ctx, dir, id)
}

// ListSessions lists the live local sessions, oldest first.
func (c *Client) ListSessions(ctx context.Context) ([]sessionapi.SessionInfo, error) {
	dir, err := c.sessionsDir(nil)
	if err != nil {
		return nil, err
	}
	infos, err := registry.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("listing sessions in %s: %w", dir, err)
	}
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].StartedAt.Before(infos[j].StartedAt) })
	out := make([]sessionapi.SessionInfo, 0, len(infos))
	for _, in := range infos {
		out = append(out, sessionapi.SessionInfo{
			SessionID: in.ID, Key: in.Key, Target: in.Target, Namespace: in.Namespace,
			StartedAt: in.StartedAt.UTC().Format(time.RFC3339), PID: in.PID,
		})
	}
	return out, nil
}

// StopSession asks the session to end and waits until its socket is gone.
func (c *Client) StopSession(ctx context.Context, id string) error {
	if err := registry.CheckID(id); err != nil {
		return err
	}
	dir, err := c.sessionsDir(nil)
	if err != nil {
		return err
	}
	if err := registry.Kill(ctx, dir, id); err != nil {
		return fmt.Errorf("stopping session %s: %w", id, err)
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := registry.Get(ctx, dir, id); errors.Is(err, registry.ErrNotFound) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("session %s did not stop: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// Watch calls changed whenever a session socket appears in or leaves the
// session directory, until ctx ends.
func (c *Client) Watch(ctx context.Context, changed func()) error {
	dir, err := c.sessionsDir(nil)
	if err != nil {
		return err
	}
	last := snapshot(dir)
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := snapshot(dir)
		if now != last {
			last = now
			changed()
		}
	}
}

// snapshot names the sockets of dir ("" when it does not exist).
func snapshot(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") {
			b.WriteString(e.Name())
			b.WriteByte(0)
		}
	}
	return b.String()
}

// GitBranch answers mirrord/gitBranch.
func (c *Client) GitBranch(ctx context.Context, p sessionapi.GitBranchParams) (sessionapi.GitBranchResult, error) {
	folder := p.Folder
	if folder == "" {
		return sessionapi.GitBranchResult{}, errors.New("folder is required")
	}
	info, err := branch.Detect(ctx, folder, branch.Options{LookupEnv: c.lookup(p.Env)})
	if err != nil {
		return sessionapi.GitBranchResult{}, err
	}
	return sessionapi.GitBranchResult{Branch: info.Branch, Commit: info.Commit, Detached: info.Detached, Root: info.Root, Source: string(info.Source)}, nil
}

// limitedBuffer keeps the last stderrLimit bytes written.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - stderrLimit; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *limitedBuffer) String() string { return string(b.Bytes()) }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
