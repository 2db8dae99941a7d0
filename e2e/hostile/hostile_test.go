// Package hostile throws every hostile input of docs/security.md at one
// real mirrord-ls process (bin/mirrord-ls, with the real cluster helper
// next to it) in an untrusted workspace, checks the safe outcome of each,
// and bounds the process's peak memory after the whole suite.
package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/wire"
)

func TestMain(m *testing.M) { os.Exit(testbin.Run(m, m.Run)) }

// peakRSSBound is the most memory (VmHWM) mirrord-ls may have used by the
// end of the suite: the 11 MiB document, the 100,000-deep document and the
// 1 MB array are each held and checked on the way.
const peakRSSBound = 256 << 20

// deadline bounds every wait of the suite: an answer that does not come
// by then is a hang.
const deadline = 60 * time.Second

type message struct {
	ID     *int            `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type diagnostic struct {
	Range struct {
		Start struct{ Line, Character int } `json:"start"`
	} `json:"range"`
	Severity int    `json:"severity"`
	Code     any    `json:"code"`
	Message  string `json:"message"`
}

// server is mirrord-ls on pipes, spoken to frame by frame.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	cond    *sync.Cond
	nextID  int
	replies map[int]message
	diags   map[string][]diagnostic // latest per URI
	done    bool
}

func start(t *testing.T, home string) *server {
	t.Helper()
	cmd := exec.Command(testbin.LS(t), "--stdio")
	// The user's own kubeconfig does not exist: nothing may reach a
	// cluster but through a workspace file, which is what must not happen.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MIRRORD_") && !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+home, "KUBECONFIG="+filepath.Join(home, "no-kubeconfig"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, stdin: stdin, replies: map[int]message{}, diags: map[string][]diagnostic{}}
	s.cond = sync.NewCond(&s.mu)
	go s.read(stdout)
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("mirrord-ls did not exit after its stdin closed")
		}
	})
	return s
}

func (s *server) read(r io.Reader) {
	frames := wire.NewFrameReader(r)
	for {
		body, _, err := frames.Next()
		var m message
		if err == nil {
			err = json.Unmarshal(body, &m)
		}
		s.mu.Lock()
		if err != nil {
			s.done = true
			s.cond.Broadcast()
			s.mu.Unlock()
			return
		}
		switch {
		case m.Method == "" && m.ID != nil:
			s.replies[*m.ID] = m
		case m.Method == "textDocument/publishDiagnostics":
			var p struct {
				URI         string       `json:"uri"`
				Diagnostics []diagnostic `json:"diagnostics"`
			}
			if json.Unmarshal(m.Params, &p) == nil {
				s.diags[p.URI] = p.Diagnostics
			}
		case m.ID != nil:
			// A request of the server's (registerCapability, progress):
			// accepted.
			go s.write(fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"result":null}`, *m.ID))
		}
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

func (s *server) write(body []byte) {
	frame := append(fmt.Appendf(nil, "Content-Length: %d\r\n\r\n", len(body)), body...)
	_, _ = s.stdin.Write(frame)
}

func (s *server) notify(method string, params any) {
	s.t.Helper()
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	if err != nil {
		s.t.Fatal(err)
	}
	s.write(b)
}

// call sends a request and waits for its answer.
func (s *server) call(method string, params any) message {
	s.t.Helper()
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		s.t.Fatal(err)
	}
	s.write(b)
	var m message
	s.wait(method, func() bool {
		var ok bool
		m, ok = s.replies[id]
		return ok
	})
	return m
}

// wait waits until cond holds (under s.mu) or the deadline passes.
func (s *server) wait(what string, cond func() bool) {
	s.t.Helper()
	timer := time.AfterFunc(deadline, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	end := time.Now().Add(deadline)
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if s.done {
			s.t.Fatalf("mirrord-ls ended while waiting for %s", what)
		}
		if time.Now().After(end) {
			s.t.Fatalf("no %s within %s: mirrord-ls hangs", what, deadline)
		}
		s.cond.Wait()
	}
}

// open opens a file as the editor would and waits for diagnostics that
// satisfy ok.
func (s *server) open(path, text string, ok func([]diagnostic) bool) []diagnostic {
	s.t.Helper()
	uri := string(lsp.URIFromPath(path))
	lang := strings.TrimPrefix(filepath.Ext(path), ".")
	s.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": lang, "version": 1, "text": text}})
	var got []diagnostic
	s.wait("diagnostics of "+filepath.Base(path), func() bool {
		d, published := s.diags[uri]
		got = d
		return published && ok(d)
	})
	return got
}

func withCode(code string) func([]diagnostic) bool {
	return func(ds []diagnostic) bool {
		for _, d := range ds {
			if fmt.Sprint(d.Code) == code {
				return true
			}
		}
		return false
	}
}

func containing(text string) func([]diagnostic) bool {
	return func(ds []diagnostic) bool {
		for _, d := range ds {
			if strings.Contains(d.Message, text) {
				return true
			}
		}
		return false
	}
}

func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// TestHostileInputs runs the suite against one mirrord-ls, in the order of
// docs/security.md.
func TestHostileInputs(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	ws := filepath.Join(root, "repo")
	s := start(t, home)
	init := s.call("initialize", map[string]any{
		"processId": os.Getpid(), "rootUri": string(lsp.URIFromPath(ws)),
		"capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "hostile-suite"},
	})
	if init.Error != nil {
		t.Fatalf("initialize: %+v", init.Error)
	}
	s.notify("initialized", map[string]any{})
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			s.t = t
			defer func() { s.t = nil }()
			f(t)
		})
		s.t = t
	}

	run("exec plugin of a workspace kubeconfig", func(t *testing.T) {
		marker := filepath.Join(root, "plugin-ran")
		plugin := filepath.Join(ws, "plugin.sh")
		writeFile(t, plugin, "#!/bin/sh\necho ran >> '"+marker+"'\nexit 1\n", 0o755)
		writeFile(t, filepath.Join(ws, "repo.kubeconfig"), `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: `+strconv.Quote(plugin)+`, interactiveMode: Never}}}]
`, 0o600)
		cfg := filepath.Join(ws, ".mirrord", "mirrord.json")
		text := `{"kubeconfig": "../repo.kubeconfig", "target": {"namespace": "default", "path": "pod/ghost"}}`
		writeFile(t, cfg, text, 0o644)
		s.open(cfg, text, withCode("WORKSPACE-NOT-TRUSTED"))
		uri := string(lsp.URIFromPath(cfg))
		s.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": 0, "character": strings.Index(text, "ghost")}})
		s.call("textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": 0, "character": strings.Index(text, "pod/") + 4}})
		if m := s.call("mirrord/listTargets", map[string]any{"configUri": uri}); m.Error == nil || !strings.Contains(m.Error.Message, "not trusted") {
			t.Errorf("listTargets with the workspace kubeconfig: %+v, want a refusal", m.Error)
		}
		if m := s.call("mirrord/startSession", map[string]any{"configPath": cfg, "workspaceFolder": ws}); m.Error == nil || !strings.Contains(m.Error.Message, "not trusted") {
			t.Errorf("startSession with the workspace kubeconfig: %+v, want a refusal", m.Error)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("the workspace kubeconfig's exec plugin ran")
		}
	})

	run("Jira site chosen by the repository", func(t *testing.T) {
		cfg := filepath.Join(ws, "jira.mirrord.json")
		text := `{"jira": {"enabled": true, "url": "http://attacker.example", "issue_key_pattern": ".+"}}`
		writeFile(t, cfg, text, 0o644)
		s.open(cfg, text, withCode("V-JIRA-SITE"))
	})

	run("nesting 100,000 deep", func(t *testing.T) {
		cfg := filepath.Join(ws, "deep.mirrord.json")
		text := `{"feature": ` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`
		got := s.open(cfg, text, containing("nested more than"))
		if got[0].Range.Start.Line != 0 {
			t.Errorf("depth error at %+v", got[0].Range)
		}
		uri := string(lsp.URIFromPath(cfg))
		mid := len(text) / 2
		for _, m := range []string{"textDocument/hover", "textDocument/completion"} {
			if r := s.call(m, map[string]any{"textDocument": map[string]any{"uri": uri}, "position": map[string]any{"line": 0, "character": mid}}); r.Error != nil && r.Error.Code != -32800 {
				t.Errorf("%s at depth 50,000: %+v", m, r.Error)
			}
		}
	})

	run("11 MiB document", func(t *testing.T) {
		cfg := filepath.Join(ws, "big.mirrord.json")
		text := `{"skip_processes": ["` + strings.Repeat("x", 11<<20) + `"]}`
		s.open(cfg, text, containing("more than the limit"))
	})

	run("1 MB array", func(t *testing.T) {
		cfg := filepath.Join(ws, "array.mirrord.json")
		var b strings.Builder
		b.WriteString(`{"skip_processes": [`)
		for i := 0; b.Len() < 1<<20; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"p%d"`, i)
		}
		b.WriteString(`], "feture": 1}`)
		s.open(cfg, b.String(), containing("unknown field `feture`"))
	})

	run("line endings and BOM", func(t *testing.T) {
		for name, text := range map[string]string{
			"cr.mirrord.json":   "{\r\"feature\": {},\r\"feture\": 1\r}\r",
			"crlf.mirrord.json": "{\r\n\"feature\": {},\r\n\"feture\": 1\r\n}\r\n",
			"bom.mirrord.json":  "\ufeff{\n\"feature\": {},\n\"feture\": 1\n}\n",
			"bom.mirrord.toml":  "\ufefffeture = 1\n[feature]\n",
		} {
			got := s.open(filepath.Join(ws, name), text, containing("unknown field `feture`"))
			want := 2
			if strings.HasSuffix(name, ".toml") {
				want = 0
			}
			for _, d := range got {
				if strings.Contains(d.Message, "feture") && d.Range.Start.Line != want {
					t.Errorf("%s: the error is on line %d, want %d", name, d.Range.Start.Line, want)
				}
			}
		}
	})

	run("bad frames", func(t *testing.T) {
		// One byte short: the server must find the next header and answer
		// every request after it.
		body := `{"jsonrpc":"2.0","id":900,"method":"mirrord/discoverConfig","params":{}}`
		_, _ = s.stdin.Write(fmt.Appendf(nil, "Content-Length: %d\r\n\r\n%s", len(body)-1, body))
		// A declared length of 2^40, with nothing behind it.
		_, _ = s.stdin.Write([]byte("Content-Length: 1099511627776\r\n\r\n"))
		for i := 0; i < 20; i++ {
			if m := s.call("mirrord/discoverConfig", map[string]any{"workspaceFolder": ws}); m.Error != nil && !strings.Contains(m.Error.Message, "params") {
				t.Fatalf("request %d after bad frames: %+v", i, m.Error)
			}
		}
	})

	run("shared sessions directory", func(t *testing.T) {
		shared := filepath.Join(root, "shared-sessions")
		if err := os.Mkdir(shared, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(shared, 0o777); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		cmd := exec.CommandContext(ctx, testbin.Mirrord(t), "session", "ls")
		cmd.Env = append(os.Environ(), "MIRRORD_SESSIONS_DIR="+shared)
		out, err := cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("writable by")) {
			t.Fatalf("mirrord session ls on a 0777 directory: %v\n%s", err, out)
		}
	})

	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("mirrord-ls peak RSS after the suite: %.1f MiB (bound %d MiB)", float64(peak)/(1<<20), peakRSSBound>>20)
	if peak > peakRSSBound {
		t.Errorf("mirrord-ls peaked at %d MiB, over the bound of %d MiB", peak>>20, peakRSSBound>>20)
	}
}
