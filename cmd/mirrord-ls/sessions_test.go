package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
	"github.com/mirrord-ls/mirrord-ls/session/extclient"
)

func TestMain(m *testing.M) { os.Exit(testbin.Run(m, m.Run)) }

const waitTimeout = 60 * time.Second

// lspClient is an editor talking to the real server over a pipe.
type lspClient struct {
	t     testing.TB
	conn  jsonrpc2.Conn
	calls atomic.Int32 // mirrors the connection's request ids

	mu      sync.Mutex
	cond    *sync.Cond
	notes   []note
	created []string // tokens of window/workDoneProgress/create
}

type note struct {
	method string
	params json.RawMessage
}

// env is the server's environment: the test's plus a private session
// directory.
func newServer(t testing.TB, sessions string, extra ...string) *lspClient {
	t.Helper()
	environ := append(os.Environ(), "MIRRORD_SESSIONS_DIR="+sessions)
	environ = append(environ, extra...)
	lookup := func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
	srv, err := server.New(server.Options{
		Version:   "test",
		LookupEnv: lookup,
		Sessions: extclient.New(extclient.Options{
			Mirrord: testbin.Mirrord(t), LookupEnv: lookup,
			Environ: func() []string { return environ }, PollInterval: 50 * time.Millisecond,
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { srv.ServeStream(ctx, wire.New(a)); close(served) }()
	c := &lspClient{t: t, conn: jsonrpc2.NewConn(wire.New(b))}
	c.cond = sync.NewCond(&c.mu)
	c.conn.Go(ctx, c.handle)
	t.Cleanup(func() {
		cancel()
		_ = c.conn.Close()
		<-served
	})
	var res protocol.InitializeResult
	c.call("initialize", map[string]any{
		"processId": nil, "rootUri": nil,
		"clientInfo":   map[string]any{"name": "test-editor", "version": "1"},
		"capabilities": map[string]any{"window": map[string]any{"workDoneProgress": true}},
	}, &res)
	if err := c.conn.Notify(ctx, "initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *lspClient) handle(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
	c.mu.Lock()
	if req.Method() == "window/workDoneProgress/create" {
		var p struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(req.Params(), &p)
		c.created = append(c.created, p.Token)
	}
	c.notes = append(c.notes, note{req.Method(), req.Params()})
	c.cond.Broadcast()
	c.mu.Unlock()
	if _, ok := req.(*jsonrpc2.Call); ok {
		return reply(ctx, nil, nil)
	}
	return nil
}

// callErr sends a request and returns its error.
func (c *lspClient) callErr(ctx context.Context, method string, params, result any) error {
	c.calls.Add(1)
	_, err := c.conn.Call(ctx, method, params, result)
	return err
}

func (c *lspClient) call(method string, params, result any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.callErr(ctx, method, params, result); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
}

// waitNote waits for a notification that ok accepts, from index from on.
func (c *lspClient) waitNote(from int, ok func(note) bool) (note, int) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i := from; i < len(c.notes); i++ {
			if ok(c.notes[i]) {
				return c.notes[i], i + 1
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("notification not received; got %d notes", len(c.notes))
		}
		c.cond.Wait()
	}
}

func (c *lspClient) progress(token string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, n := range c.notes {
		if n.method != "$/progress" {
			continue
		}
		var p struct {
			Token any            `json:"token"`
			Value map[string]any `json:"value"`
		}
		if json.Unmarshal(n.params, &p) == nil && fmt.Sprint(p.Token) == token {
			out = append(out, p.Value)
		}
	}
	return out
}

func sessionsDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "mlsx") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mirrord.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stopAll stops what a test left (registered after the pod and agent, so
// it runs first).
func stopAll(t testing.TB, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	infos, _ := registry.List(ctx, dir)
	for _, in := range infos {
		_ = registry.Kill(ctx, dir, in.ID)
		agenttest.WaitGone(t, in.PID)
	}
}

// children lists the live child processes of this test named name.
func children(name string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	me := os.Getpid()
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || len(s) < end+2 {
			continue
		}
		fields := strings.Fields(s[end+2:])
		if len(fields) < 2 || fields[0] == "Z" || s[open+1:end] != name {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == me {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			out = append(out, pid)
		}
	}
	return out
}

type agentFixture struct {
	agent    *agenttest.Agent
	sessions string
	env      map[string]string
}

func newAgentFixture(t testing.TB, podEnv map[string]string) *agentFixture {
	t.Helper()
	agenttest.RequireRoot(t)
	testbin.Mirrord(t)
	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: podEnv})
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Extra: []string{"--linger", "60s"}})
	dir := sessionsDir(t)
	t.Cleanup(func() { stopAll(t, dir) })
	return &agentFixture{agent: a, sessions: dir, env: map[string]string{
		"MIRRORD_AGENT_ADDRESS": a.Addr, "MIRRORD_AGENT_TOKEN": a.Token,
		"MIRRORD_INTPROXY_LOG": filepath.Join(t.TempDir(), "intproxy.log"),
	}}
}

type sessionsChanged struct {
	Sessions []sessionapi.SessionInfo `json:"sessions"`
}

func hasSession(id string) func(note) bool {
	return func(n note) bool {
		var p sessionsChanged
		return n.method == "mirrord/sessionsChanged" && json.Unmarshal(n.params, &p) == nil &&
			slices.ContainsFunc(p.Sessions, func(s sessionapi.SessionInfo) bool { return s.SessionID == id })
	}
}

// The editor flow through mirrord-ls: startSession → $/progress → the
// launch environment → python sees the pod's environment; listSessions,
// sessionsChanged, stopSession; nothing is left running.
func TestStartSessionThroughServer(t *testing.T) {
	f := newAgentFixture(t, map[string]string{"REMOTE": "from the pod"})
	c := newServer(t, f.sessions)
	cfg := writeConfig(t, `{"internal_proxy": {"idle_timeout": 120}}`)

	var launch sessionapi.LaunchEnvironment
	c.call("mirrord/startSession", sessionapi.StartSessionParams{
		ConfigPath: cfg, Target: "pod/api-0", Executable: "python3", WorkspaceFolder: t.TempDir(), Env: f.env,
	}, &launch)
	env := launch.Environment
	for _, k := range []string{"LD_PRELOAD", "MIRRORD_LAYER_INTPROXY_ADDR"} {
		if env[k] == "" {
			t.Errorf("environment lacks %s: %v", k, env)
		}
	}
	if env["REMOTE"] != "from the pod" || launch.SessionID == "" || launch.EnvToUnset == nil || launch.Warnings == nil {
		t.Fatalf("launch %+v", launch)
	}

	// $/progress on the token the server created: begin, reports, end.
	c.mu.Lock()
	created := slices.Clone(c.created)
	c.mu.Unlock()
	if len(created) != 1 {
		t.Fatalf("window/workDoneProgress/create tokens %v", created)
	}
	var kinds []string
	for _, v := range c.progress(created[0]) {
		kinds = append(kinds, fmt.Sprint(v["kind"]))
	}
	if len(kinds) < 3 || kinds[0] != "begin" || kinds[len(kinds)-1] != "end" || slices.Index(kinds, "report") != 1 {
		t.Errorf("progress kinds %v", kinds)
	}
	if first := c.progress(created[0])[0]; first["title"] != "mirrord preparing to launch" {
		t.Errorf("begin %v", first)
	}

	var list []sessionapi.SessionInfo
	c.call("mirrord/listSessions", nil, &list)
	if len(list) != 1 || list[0].SessionID != launch.SessionID || list[0].Target != "pod/api-0" || list[0].PID == 0 {
		t.Fatalf("listSessions %+v", list)
	}
	_, next := c.waitNote(0, hasSession(launch.SessionID))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	py := exec.CommandContext(ctx, "python3", "-c", `import os; print(os.environ.get("REMOTE"))`)
	py.Env = launchEnv(os.Environ(), launch)
	out, err := py.CombinedOutput()
	if err != nil || string(out) != "from the pod\n" {
		t.Fatalf("python: %v %q", err, out)
	}

	c.call("mirrord/stopSession", map[string]string{"session_id": launch.SessionID}, nil)
	agenttest.WaitGone(t, list[0].PID)
	c.call("mirrord/listSessions", nil, &list)
	if len(list) != 0 {
		t.Errorf("after stop: %+v", list)
	}
	c.waitNote(next, func(n note) bool {
		var p sessionsChanged
		return n.method == "mirrord/sessionsChanged" && json.Unmarshal(n.params, &p) == nil && len(p.Sessions) == 0
	})
	if kids := children("mirrord"); len(kids) != 0 {
		t.Errorf("mirrord processes left: %v", kids)
	}
	if entries, _ := os.ReadDir(f.sessions); len(entries) != 0 {
		t.Errorf("session directory not empty: %v", entries)
	}
}

func launchEnv(base []string, l sessionapi.LaunchEnvironment) []string {
	m := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for _, u := range l.EnvToUnset {
		delete(m, u)
	}
	for k, v := range l.Environment {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// A broken config: a JSON-RPC error carrying mirrord's report, and the
// progress ends.
func TestStartSessionBrokenConfig(t *testing.T) {
	dir := sessionsDir(t)
	c := newServer(t, dir)
	cfg := writeConfig(t, `{"feature": {"fs": {"mode": "sideways"}}}`)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := c.callErr(ctx, "mirrord/startSession", sessionapi.StartSessionParams{ConfigPath: cfg, WorkDoneToken: "tok-1"}, nil)
	var rpcErr *jsonrpc2.Error
	if !errors.As(err, &rpcErr) {
		t.Fatalf("err %v, want a JSON-RPC error", err)
	}
	if !strings.Contains(rpcErr.Message, "sideways") || rpcErr.Data == nil {
		t.Fatalf("error %+v", rpcErr)
	}
	var data sessionapi.SessionError
	if err := json.Unmarshal(*rpcErr.Data, &data); err != nil || data.Message == "" || data.Causes == nil {
		t.Fatalf("error data %s: %v", *rpcErr.Data, err)
	}
	vals := c.progress("tok-1")
	if len(vals) < 2 || vals[0]["kind"] != "begin" || vals[len(vals)-1]["kind"] != "end" ||
		!strings.HasPrefix(fmt.Sprint(vals[len(vals)-1]["message"]), "failed") {
		t.Errorf("progress %v", vals)
	}
	if kids := children("mirrord"); len(kids) != 0 {
		t.Errorf("mirrord processes left: %v", kids)
	}
}

// $/cancelRequest while mirrord ext waits for the agent: the request
// answers RequestCancelled and nothing is left behind.
func TestStartSessionCancelled(t *testing.T) {
	testbin.Mirrord(t)
	dir := sessionsDir(t)
	c := newServer(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if conn, err := ln.Accept(); err == nil {
			accepted <- conn
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	id := c.calls.Load() + 1
	answered := make(chan error, 1)
	go func() {
		answered <- c.callErr(ctx, "mirrord/startSession", sessionapi.StartSessionParams{
			Env: map[string]string{"MIRRORD_AGENT_ADDRESS": ln.Addr().String(), "MIRRORD_AGENT_TOKEN": "t"},
		}, nil)
	}()
	select {
	case conn := <-accepted:
		defer conn.Close()
	case err := <-answered:
		t.Fatalf("answered before connecting: %v", err)
	case <-ctx.Done():
		t.Fatal("mirrord ext never connected")
	}
	if len(children("mirrord")) != 1 {
		t.Errorf("mirrord ext children %v", children("mirrord"))
	}
	if err := c.conn.Notify(ctx, "$/cancelRequest", map[string]any{"id": id}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answered:
		var rpcErr *jsonrpc2.Error
		if !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc2.Code(-32800) {
			t.Fatalf("answer %v, want RequestCancelled", err)
		}
	case <-ctx.Done():
		t.Fatal("no answer after $/cancelRequest")
	}
	if kids := children("mirrord"); len(kids) != 0 {
		t.Errorf("mirrord processes left: %v", kids)
	}
	if infos, _ := registry.List(ctx, dir); len(infos) != 0 {
		t.Errorf("sessions left: %+v", infos)
	}
}

func git(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestGitBranch(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "PROJ-12-feature")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "first")
	c := newServer(t, sessionsDir(t))
	for _, tc := range []struct {
		name    string
		params  sessionapi.GitBranchParams
		command bool
		want    sessionapi.GitBranchResult
	}{
		{name: "repository", params: sessionapi.GitBranchParams{Folder: repo}, want: sessionapi.GitBranchResult{Branch: "PROJ-12-feature", Source: "git", Root: repo}},
		{name: "file URI via executeCommand", params: sessionapi.GitBranchParams{Folder: "file://" + repo}, command: true, want: sessionapi.GitBranchResult{Branch: "PROJ-12-feature", Source: "git", Root: repo}},
		{name: "env wins", params: sessionapi.GitBranchParams{Folder: repo, Env: map[string]string{"MIRRORD_BRANCH_NAME": "from-env"}}, want: sessionapi.GitBranchResult{Branch: "from-env", Source: "env"}},
		{name: "no repository", params: sessionapi.GitBranchParams{Folder: t.TempDir()}, want: sessionapi.GitBranchResult{Source: "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got sessionapi.GitBranchResult
			if tc.command {
				c.call("workspace/executeCommand", map[string]any{"command": "mirrord.gitBranch", "arguments": []any{tc.params}}, &got)
			} else {
				c.call("mirrord/gitBranch", tc.params, &got)
			}
			if tc.want.Source == "git" && len(got.Commit) != 40 {
				t.Errorf("commit %q", got.Commit)
			}
			got.Commit = ""
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rpcErr *jsonrpc2.Error
	if err := c.callErr(ctx, "mirrord/gitBranch", map[string]any{}, nil); !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc2.InvalidParams {
		t.Errorf("no folder: %v", err)
	}
}

// BenchmarkStartSession measures mirrord/startSession to its answer with a
// pre-started agent (p50 reported); each session is stopped outside the
// timing.
func BenchmarkStartSession(b *testing.B) {
	f := newAgentFixture(b, map[string]string{"REMOTE": "x"})
	c := newServer(b, f.sessions)
	cfg := writeConfig(b, `{}`)
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		var launch sessionapi.LaunchEnvironment
		c.call("mirrord/startSession", sessionapi.StartSessionParams{ConfigPath: cfg, Target: "pod/api-0", Env: f.env}, &launch)
		times = append(times, time.Since(start))
		b.StopTimer()
		c.call("mirrord/stopSession", map[string]string{"session_id": launch.SessionID}, nil)
		b.StartTimer()
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
}
