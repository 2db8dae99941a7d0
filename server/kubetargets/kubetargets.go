// Package kubetargets connects the language server to the cluster without
// linking client-go: its Client implements the server's TargetCatalog
// (mirrord/listTargets, target hovers, the missing-target check) and
// ClusterCompleter (targets, containers and namespaces while typing) by
// asking the cluster helper, a `mirrord cluster-serve --stdio` child
// process that holds the watch-backed target cache (protocol:
// internal/clusterrpc).
//
// The helper is started on the first cluster question and kept warm. If it
// dies, the next question starts it again (with a growing delay between
// restarts that keep failing); meanwhile questions fail with "cluster
// helper exited: …". Close stops it.
package kubetargets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/internal/clusterrpc"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/server"
)

// Options configure a Client.
type Options struct {
	// Mirrord is the mirrord CLI that serves the cluster helper ("": the
	// `mirrord` next to the running executable, else on PATH).
	Mirrord string
	// Env is the helper's environment (nil: this process's).
	Env []string
	// CompletionBudget is how long a completion waits on the cluster
	// (default 300 ms).
	CompletionBudget time.Duration
	// SyncTimeout bounds mirrord/listTargets when the cache of a namespace
	// is cold (default 20 s).
	SyncTimeout time.Duration
	// RestartDelay is the delay before the second restart of a helper
	// that keeps exiting; it doubles up to 10 s (default 250 ms; the first
	// restart is immediate).
	RestartDelay time.Duration
	// CloseTimeout is how long Close waits for the helper to exit after
	// closing its stdin before killing it (default 2 s).
	CloseTimeout time.Duration
}

// Restart delays: a helper that exits is started again at once on the
// next question; one that keeps exiting waits longer each time (from
// Options.RestartDelay up to maxRestartDelay).
const (
	maxRestartDelay = 10 * time.Second
	// completionGrace is added to the completion budget for the helper's
	// start and the round trip.
	completionGrace = 200 * time.Millisecond
)

// Client answers the server's cluster questions through the helper.
type Client struct {
	opts Options

	mu       sync.Mutex
	h        *helper // nil: not running
	closed   bool
	failures int       // consecutive exits or failed starts
	retryAt  time.Time // no start before this
	lastErr  error     // why the last helper is gone
}

var (
	_ server.TargetCatalog    = (*Client)(nil)
	_ server.ClusterCompleter = (*Client)(nil)
)

// New returns a Client; the helper starts on the first question.
func New(opts Options) *Client {
	if opts.CompletionBudget <= 0 {
		opts.CompletionBudget = 300 * time.Millisecond
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 20 * time.Second
	}
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = 250 * time.Millisecond
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 2 * time.Second
	}
	return &Client{opts: opts}
}

// FindMirrord locates the mirrord CLI: explicit when given, else next to
// the running executable, else on PATH.
func FindMirrord(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("mirrord CLI %s: %w", explicit, err)
		}
		return explicit, nil
	}
	var tried []string
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "mirrord")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		tried = append(tried, p)
	}
	p, err := exec.LookPath("mirrord")
	if err == nil {
		return p, nil
	}
	tried = append(tried, "PATH")
	return "", fmt.Errorf("mirrord CLI not found (looked in %s); install it next to mirrord-ls or pass --mirrord PATH", strings.Join(tried, ", "))
}

// helper is one running `mirrord cluster-serve`.
type helper struct {
	cmd    *exec.Cmd
	conn   jsonrpc2.Conn
	stderr *tail
	exited chan struct{} // closed once the process was waited for
	err    error         // how it exited (set before exited closes)
}

func (c *Client) start() (*helper, error) {
	bin, err := FindMirrord(c.opts.Mirrord)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "cluster-serve", "--stdio",
		"--sync-timeout", c.opts.SyncTimeout.String(), "--completion-budget", c.opts.CompletionBudget.String())
	cmd.Env = c.opts.Env
	h := &helper{cmd: cmd, stderr: &tail{max: 4096}, exited: make(chan struct{})}
	cmd.Stderr = h.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("cluster helper: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("cluster helper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster helper: starting %s: %w", bin, err)
	}
	h.conn = jsonrpc2.NewConn(jsonrpc2.NewStream(pipes{stdout, stdin}))
	h.conn.Go(context.Background(), func(_ context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
		if _, ok := req.(*jsonrpc2.Call); ok { // the helper asks nothing
			return reply(context.Background(), nil, jsonrpc2.NewError(jsonrpc2.MethodNotFound, req.Method()))
		}
		return nil
	})
	go func() {
		// The connection ends when the helper's stdout does (it exited)
		// or when Close closed its stdin; then reap it.
		<-h.conn.Done()
		h.err = cmd.Wait()
		close(h.exited)
	}()
	return h, nil
}

// describe says how a helper ended, with the end of its stderr.
func (h *helper) describe() string {
	msg := "exit status 0"
	if h.err != nil {
		msg = h.err.Error()
	}
	if s := h.stderr.lastLine(); s != "" {
		msg += ": " + s
	}
	return msg
}

// restartDelay is the wait before starting a helper after the given
// number of consecutive failures.
func restartDelay(first time.Duration, failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := first
	for i := 2; i < failures && d < maxRestartDelay; i++ {
		d *= 2
	}
	return max(min(d, maxRestartDelay), first)
}

// running returns the helper, starting it when it is not running and the
// restart delay has passed.
func (c *Client) running() (*helper, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("cluster helper: the server is shutting down")
	}
	if c.h != nil {
		exited := c.h.exited
		select {
		case <-c.h.conn.Done():
			// Its stdout ended: it is gone or going; wait for the reaping.
			select {
			case <-exited:
			case <-time.After(time.Second): // it closed stdout but lives on
				_ = c.h.cmd.Process.Kill()
				<-exited
			}
		default:
		}
		select {
		case <-exited:
			c.failures++
			c.lastErr = fmt.Errorf("cluster helper exited: %s", c.h.describe())
			c.retryAt = time.Now().Add(restartDelay(c.opts.RestartDelay, c.failures))
			c.h = nil
		default:
			return c.h, nil
		}
	}
	if wait := time.Until(c.retryAt); wait > 0 {
		return nil, fmt.Errorf("%w; restarting in %s", c.lastErr, wait.Round(time.Millisecond))
	}
	h, err := c.start()
	if err != nil {
		c.failures++
		c.lastErr = err
		c.retryAt = time.Now().Add(max(restartDelay(c.opts.RestartDelay, c.failures), c.opts.RestartDelay))
		return nil, err
	}
	c.h = h
	return h, nil
}

// succeeded resets the restart delay after a helper answered.
func (c *Client) succeeded(h *helper) {
	c.mu.Lock()
	if c.h == h {
		c.failures = 0
	}
	c.mu.Unlock()
}

// call asks the helper. A cancelled ctx cancels the request in the helper
// and returns ctx.Err(); a helper that dies meanwhile fails the call with
// "cluster helper exited: …".
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	h, err := c.running()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.conn.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	id, err := h.conn.Call(cctx, method, params, result)
	if err == nil {
		c.succeeded(h)
		return nil
	}
	if ctx.Err() != nil {
		// Tell the helper; it may be waiting on the cluster.
		_ = h.conn.Notify(context.Background(), clusterrpc.MethodCancel, map[string]any{"id": &id})
		return ctx.Err()
	}
	var je *jsonrpc2.Error
	if errors.As(err, &je) {
		c.succeeded(h)
		return errors.New(je.Message)
	}
	// The connection failed: the helper is gone or going.
	select {
	case <-h.exited:
		return fmt.Errorf("cluster helper exited: %s", h.describe())
	case <-time.After(time.Second):
		return fmt.Errorf("cluster helper: %w", err)
	}
}

// ListTargets answers mirrord/listTargets.
func (c *Client) ListTargets(ctx context.Context, q targets.TargetQuery) (targets.TargetList, error) {
	var l targets.TargetList
	err := c.call(ctx, clusterrpc.MethodListTargets, clusterrpc.ListTargetsParams{
		Cluster: q.Cluster, Kinds: q.Kinds, IncludeUnavailable: q.IncludeUnavailable,
	}, &l)
	return l, err
}

// DescribeTarget renders the pods of a target as Markdown.
func (c *Client) DescribeTarget(ctx context.Context, ref targets.ClusterRef, path string) (string, error) {
	var md string
	err := c.call(ctx, clusterrpc.MethodDescribeTarget, clusterrpc.TargetParams{Cluster: ref, Path: path}, &md)
	return md, err
}

// CheckTarget reports a target (or its container) that does not exist,
// with the closest existing one.
func (c *Client) CheckTarget(ctx context.Context, ref targets.ClusterRef, path string) (targets.TargetCheck, error) {
	var check targets.TargetCheck
	err := c.call(ctx, clusterrpc.MethodCheckTarget, clusterrpc.TargetParams{Cluster: ref, Path: path}, &check)
	return targets.TargetCheck(check), err
}

// CompleteCluster proposes target kinds, names and containers, and
// namespaces. It never fails for want of a cluster: a slow, unreachable or
// missing helper gives an incomplete answer, so the editor asks again.
func (c *Client) CompleteCluster(ctx context.Context, q targets.ClusterQuery) (targets.ClusterAnswer, error) {
	bctx, cancel := context.WithTimeout(ctx, c.opts.CompletionBudget+completionGrace)
	defer cancel()
	var a targets.ClusterAnswer
	if err := c.call(bctx, clusterrpc.MethodComplete, q, &a); err != nil {
		if ctx.Err() != nil {
			return targets.ClusterAnswer{}, ctx.Err()
		}
		return targets.ClusterAnswer{Incomplete: true}, nil
	}
	return a, nil
}

// Close stops the helper: its stdin is closed so it exits; after
// CloseTimeout it is killed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	h := c.h
	c.h = nil
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	h.conn.Close()
	select {
	case <-h.exited:
		return nil
	case <-time.After(c.opts.CloseTimeout):
	}
	_ = h.cmd.Process.Kill() // it ignored EOF on stdin
	<-h.exited
	return errors.New("cluster helper: did not exit after its stdin closed; killed")
}

// helperPID is the helper's process id (0: not running), for tests.
func (c *Client) helperPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return 0
	}
	return c.h.cmd.Process.Pid
}

// pipes is the helper's stdout and stdin as one stream; closing it closes
// both (the helper sees EOF and exits).
type pipes struct {
	r io.ReadCloser
	w io.WriteCloser
}

func (p pipes) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipes) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipes) Close() error                { return errors.Join(p.w.Close(), p.r.Close()) }

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

// lastLine is the last non-empty line written.
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bytes.TrimSpace(t.buf)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(bytes.TrimSpace(b))
}
