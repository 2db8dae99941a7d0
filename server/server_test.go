package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

func TestLifecycle(t *testing.T) {
	c := startClient(t, Options{Version: "test"})

	if e := c.callErr("textDocument/hover", map[string]any{}); e.Code != jsonrpc2.ServerNotInitialized {
		t.Errorf("request before initialize: code %d, want %d", e.Code, jsonrpc2.ServerNotInitialized)
	}
	res := c.initialize(t.TempDir())
	caps := res.Capabilities
	var textSync protocol.TextDocumentSyncOptions // an interface{} in protocol's ServerCapabilities
	if err := json.Unmarshal(mustJSON(t, caps.TextDocumentSync), &textSync); err != nil || textSync.Change != protocol.TextDocumentSyncKindIncremental || !textSync.OpenClose {
		t.Errorf("textDocumentSync = %+v, want incremental with open/close", caps.TextDocumentSync)
	}
	if caps.CompletionProvider == nil || caps.HoverProvider != true || caps.CodeActionProvider == nil || caps.ExecuteCommandProvider == nil {
		t.Errorf("capabilities missing: %+v", caps)
	}
	if !slices.Equal(caps.ExecuteCommandProvider.Commands, []string{CommandVerifyConfig, CommandDiscoverConfig}) {
		t.Errorf("commands = %v", caps.ExecuteCommandProvider.Commands)
	}
	exp, _ := json.Marshal(caps.Experimental)
	if string(exp) != `{"mirrord":{"methods":["mirrord/didChangeWorkspaceTrust","mirrord/discoverConfig","mirrord/verifyConfig"]}}` {
		t.Errorf("experimental = %s: only implemented methods may be advertised", exp)
	}
	if res.ServerInfo.Name != "mirrord-ls" || res.ServerInfo.Version != "test" {
		t.Errorf("serverInfo = %+v", res.ServerInfo)
	}
	if e := c.callErr("initialize", map[string]any{"capabilities": map[string]any{}}); e.Code != jsonrpc2.InvalidRequest {
		t.Errorf("second initialize: code %d", e.Code)
	}
	if e := c.callErr("textDocument/definition", map[string]any{}); e.Code != jsonrpc2.MethodNotFound {
		t.Errorf("unknown method: code %d, want MethodNotFound", e.Code)
	}
	if e := c.callErr("mirrord/listTargets", map[string]any{}); e.Code != jsonrpc2.MethodNotFound {
		t.Errorf("mirrord/listTargets without a catalog: code %d, want MethodNotFound", e.Code)
	}
	c.notify("$/setTrace", map[string]any{"value": "off"}) // unknown notification: ignored
	c.call("shutdown", nil, nil)
	if e := c.callErr("textDocument/hover", map[string]any{}); e.Code != jsonrpc2.InvalidRequest {
		t.Errorf("request after shutdown: code %d, want InvalidRequest", e.Code)
	}
	c.notify("exit", nil)
	select {
	case code := <-c.exit:
		if code != 0 {
			t.Errorf("exit after shutdown: code %d, want 0", code)
		}
		c.exit <- code
	case <-time.After(waitTimeout):
		t.Fatal("no exit")
	}
}

func TestExitWithoutShutdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(c *testClient)
	}{
		{"exit notification", func(c *testClient) { c.notify("exit", nil) }},
		{"transport closed", func(c *testClient) { _ = c.raw.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startClient(t, Options{})
			c.initialize(t.TempDir())
			tc.end(c)
			select {
			case code := <-c.exit:
				if code != 1 {
					t.Errorf("exit code %d, want 1", code)
				}
				c.exit <- code
			case <-time.After(waitTimeout):
				t.Fatal("server did not exit")
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	text := `{"feture": {}, "feature": {"fs": {"mode": "rad"}}}`
	uri := c.open(dir, "mirrord.json", text)
	got := c.diagnostics(uri, nil)
	if got.Version == nil || *got.Version != 1 {
		t.Errorf("version = %v, want 1", got.Version)
	}
	var unknown, enum *protocol.Diagnostic
	for i, d := range got.Diagnostics {
		switch {
		case strings.Contains(d.Message, "feture"):
			unknown = &got.Diagnostics[i]
		case strings.Contains(d.Message, "rad"):
			enum = &got.Diagnostics[i]
		}
	}
	if unknown == nil || enum == nil {
		t.Fatalf("want an unknown-key and an enum diagnostic, got %+v", got.Diagnostics)
	}
	wantKey := protocol.Range{Start: protocol.Position{Line: 0, Character: 1}, End: protocol.Position{Line: 0, Character: 9}}
	if unknown.Range != wantKey || unknown.Severity != protocol.DiagnosticSeverityError || unknown.Source != "mirrord" {
		t.Errorf("unknown key diagnostic = %+v, want error at %+v", *unknown, wantKey)
	}
	if enum.Range.Start.Character != 42 || enum.Severity != protocol.DiagnosticSeverityError {
		t.Errorf("enum diagnostic = %+v, want an error at character 42", *enum)
	}

	// Two incremental edits fix both: "feture" -> "feature" is invalid as
	// a duplicate, so rename it to "agent"; "rad" -> "read".
	c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
		TextDocument: protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: 2},
		ContentChanges: []lsp.TextDocumentContentChangeEvent{
			{Range: &protocol.Range{Start: protocol.Position{Line: 0, Character: 43}, End: protocol.Position{Line: 0, Character: 46}}, Text: "read"},
			{Range: &protocol.Range{Start: protocol.Position{Line: 0, Character: 2}, End: protocol.Position{Line: 0, Character: 8}}, Text: "agent"},
		},
	})
	fixed := c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == 2 })
	for _, d := range fixed.Diagnostics {
		if d.Severity == protocol.DiagnosticSeverityError {
			t.Errorf("after the fix: %+v", d)
		}
	}

	// Closing clears the diagnostics.
	c.notify("textDocument/didClose", protocol.DidCloseTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}})
	c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version == nil && len(p.Diagnostics) == 0 })
}

func TestDiagnosticsFormats(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	for _, tc := range []struct {
		name, text string
		line       uint32
		contains   string
	}{
		{".mirrord/mirrord.yaml", "feature:\n  fs:\n    mode: rad\n", 2, "rad"},
		{".mirrord/config.toml", "[feature.fs]\nmode = \"rad\"\n", 1, "rad"},
		{".mirrord/broken.json", "{\"feature\": {\n  \"env\": tru\n}}", 1, ""},
		{"templated-mirrord.json", "{\"key\": \"{{ nosuchvar }}\"}", 0, "nosuchvar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := c.open(dir, tc.name, tc.text)
			got := c.diagnostics(uri, nil)
			found := false
			for _, d := range got.Diagnostics {
				if d.Severity == protocol.DiagnosticSeverityError && d.Range.Start.Line == tc.line && strings.Contains(d.Message, tc.contains) {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error on line %d mentioning %q, got %+v", tc.line, tc.contains, got.Diagnostics)
			}
		})
	}
	// Files that are not mirrord configs are left alone.
	other := c.open(dir, "package.json", `{"name": 1}`)
	var list protocol.CompletionList
	c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: other}, Position: protocol.Position{Line: 0, Character: 2}}}, &list)
	if len(list.Items) != 0 {
		t.Errorf("completion in package.json: %d items, want none", len(list.Items))
	}
}

func TestWatchedFiles(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	path := filepath.Join(dir, ".mirrord", "mirrord.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"feature": {"fs": "rad"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	uri := lsp.URIFromPath(path)
	c.notify("workspace/didChangeWatchedFiles", protocol.DidChangeWatchedFilesParams{Changes: []*protocol.FileEvent{{URI: uri, Type: protocol.FileChangeTypeChanged}}})
	got := c.diagnostics(uri, nil)
	if len(got.Diagnostics) == 0 {
		t.Fatal("no diagnostics for the changed file")
	}
	c.notify("workspace/didChangeWatchedFiles", protocol.DidChangeWatchedFilesParams{Changes: []*protocol.FileEvent{{URI: uri, Type: protocol.FileChangeTypeDeleted}}})
	c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) == 0 })

	// An open document is re-validated.
	open := c.open(dir, "x-mirrord.json", `{"feature": {"env": true}}`)
	c.diagnostics(open, nil)
	c.mu.Lock()
	before := len(c.notes)
	c.mu.Unlock()
	c.notify("workspace/didChangeWatchedFiles", protocol.DidChangeWatchedFilesParams{Changes: []*protocol.FileEvent{{URI: lsp.URIFromPath(filepath.Join(dir, "other.json")), Type: protocol.FileChangeTypeChanged}}})
	c.waitFor("re-validation of the open document", func() bool {
		for _, n := range c.notes[before:] {
			if n.method == "textDocument/publishDiagnostics" && strings.Contains(string(n.params), string(open)) {
				return true
			}
		}
		return false
	})
}

func completionLabels(list protocol.CompletionList) []string {
	out := make([]string, len(list.Items))
	for i, it := range list.Items {
		out[i] = it.Label
	}
	return out
}

func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
current-context: kind-dev
contexts:
- name: kind-dev
  context: {cluster: kind-dev, namespace: default}
- name: prod-eu
  context: {cluster: prod}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KUBECONFIG": kubeconfig}
	c := startClient(t, Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	c.initialize(dir)

	tests := []struct {
		name, file, text string
		want             []string
		notWant          []string
		newText          map[string]string // label -> expected newText
	}{
		{name: "json partial key while typing", file: "mirrord.json", text: `{"feature": {"fs": {"mo¦`,
			want: []string{"mode"}, newText: map[string]string{"mode": `"mode": "${1|read,write,local,localwithoverrides|}"`}},
		{name: "json root keys skip present ones", file: "mirrord.json", text: "{\n  \"target\": \"pod/x\",\n  ¦\n}",
			want: []string{"feature", "agent", "kube_context"}, notWant: []string{"target"}},
		{name: "json object value snippet", file: "mirrord.json", text: `{"¦"}`,
			want: []string{"feature", "target"}, newText: map[string]string{"feature": `"feature": {$1}`, "target": `"target": $1`}},
		{name: "json enum value", file: "mirrord.json", text: `{"feature": {"fs": {"mode": "¦"}}}`,
			want: []string{"read", "write", "local", "localwithoverrides"}, newText: map[string]string{"write": `"write"`}},
		{name: "json shorthand and booleans", file: "mirrord.json", text: `{"feature": {"fs": ¦}}`,
			want: []string{"true", "false", "read", "{…}"}},
		{name: "json kube contexts", file: "mirrord.json", text: `{"kube_context": "¦"}`,
			want: []string{"kind-dev", "prod-eu"}},
		{name: "template functions", file: "mirrord.json", text: `{"key": "{{ ¦ }}"}`,
			want: []string{"get_env", "git_branch", "key"}, notWant: []string{"upper"}},
		{name: "template filters", file: "mirrord.json", text: `{"key": "{{ git_branch | ¦ }}"}`,
			want: []string{"default", "upper"}, notWant: []string{"get_env"}},
		{name: "yaml nested key", file: ".mirrord/mirrord.yaml", text: "feature:\n  fs:\n    mo¦",
			want: []string{"mode"}, newText: map[string]string{"mode": "mode: ${1|read,write,local,localwithoverrides|}"}},
		{name: "yaml object key", file: ".mirrord/obj.yaml", text: "agent:\n  log_level: info\nfeat¦",
			want: []string{"feature"}, newText: map[string]string{"feature": "feature:\n  $1"}},
		{name: "yaml nested object key", file: ".mirrord/obj2.yaml", text: "feature:\n  netw¦",
			want: []string{"network"}},
		{name: "yaml value", file: ".mirrord/mirrord.yaml", text: "feature:\n  network:\n    incoming: ¦",
			want: []string{"mirror", "steal"}},
		{name: "toml key", file: ".mirrord/mirrord.toml", text: "[feature.fs]\nmo¦",
			want: []string{"mode"}, newText: map[string]string{"mode": `mode = "${1|read,write,local,localwithoverrides|}"`}},
		{name: "toml table header", file: ".mirrord/mirrord.toml", text: "[feature.n¦]",
			want: []string{"network"}, newText: map[string]string{"network": "network"}},
		{name: "toml value", file: ".mirrord/mirrord.toml", text: "[feature]\nenv = ¦",
			want: []string{"true", "false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off := strings.Index(tc.text, "¦")
			text := tc.text[:off] + tc.text[off+len("¦"):]
			uri := c.open(filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), tc.file, text)
			line := uint32(strings.Count(text[:off], "\n"))
			col := uint32(len([]rune(text[strings.LastIndex(text[:off], "\n")+1 : off])))
			var list protocol.CompletionList
			c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
				TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: line, Character: col}}}, &list)
			labels := completionLabels(list)
			for _, w := range tc.want {
				if !slices.Contains(labels, w) {
					t.Errorf("missing %q in %v", w, labels)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(labels, w) {
					t.Errorf("unexpected %q in %v", w, labels)
				}
			}
			for _, it := range list.Items {
				if it.TextEdit == nil {
					t.Fatalf("item %q has no textEdit", it.Label)
				}
				r := it.TextEdit.Range
				if r.Start.Line != line || r.End.Line != line || r.Start.Character > col || r.End.Character < col {
					t.Fatalf("item %q edits %+v, which does not hold the cursor %d:%d", it.Label, r, line, col)
				}
				if want, ok := tc.newText[it.Label]; ok && it.TextEdit.NewText != want {
					t.Errorf("item %q inserts %q, want %q", it.Label, it.TextEdit.NewText, want)
				}
			}
		})
	}
}

// TestCompletionConfigKubeconfig: the config's own kubeconfig field picks
// the file the kube contexts come from.
func TestCompletionConfigKubeconfig(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own-kubeconfig")
	if err := os.WriteFile(own, []byte("contexts:\n- name: from-config\n  context: {cluster: c}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, Options{})
	c.initialize(dir)
	text := `{"kubeconfig": ` + jsonString(own) + `, "kube_context": ""}`
	uri := c.open(dir, "mirrord.json", text)
	var list protocol.CompletionList
	c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 0, Character: uint32(len(text) - 2)}}}, &list)
	if labels := completionLabels(list); !slices.Contains(labels, "from-config") {
		t.Errorf("completion = %v, want the contexts of the config's kubeconfig", labels)
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestHover(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	uri := c.open(dir, "mirrord.json", `{"feature": {"fs": {"mode": "read"}}}`)
	for _, tc := range []struct {
		name string
		char uint32
		want []string
	}{
		{"key", 22, []string{"**mode**", "File operations mode", "Default: `\"read\"`", `"read" | "write"`}},
		{"enum value", 31, []string{"`read`: ", "File operations mode"}},
		{"object key", 3, []string{"**feature**", "environment, files, network"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h *protocol.Hover
			c.call("textDocument/hover", protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 0, Character: tc.char}}, &h)
			if h == nil {
				t.Fatal("no hover")
			}
			for _, w := range tc.want {
				if !strings.Contains(h.Contents.Value, w) {
					t.Errorf("hover %q lacks %q", h.Contents.Value, w)
				}
			}
		})
	}
	var h *protocol.Hover
	c.call("textDocument/hover", protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 5, Character: 0}}, &h)
	if h != nil {
		t.Errorf("hover past the end: %+v, want null", h)
	}
	for _, tc := range []struct {
		file, text string
		line, char uint32
	}{
		{".mirrord/h.yaml", "feature:\n  fs:\n    mode: read\n", 2, 5},
		{".mirrord/h.toml", "[feature.fs]\nmode = \"read\"\n", 1, 1},
	} {
		u := c.open(dir, tc.file, tc.text)
		var h *protocol.Hover
		c.call("textDocument/hover", protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}, Position: protocol.Position{Line: tc.line, Character: tc.char}}, &h)
		if h == nil || !strings.Contains(h.Contents.Value, "**mode**") {
			t.Errorf("hover in %s: %+v", tc.file, h)
		}
	}
}

// staticCatalog stands in for the cluster-backed target cache.
type staticCatalog struct{}

func (staticCatalog) ListTargets(_ context.Context, q targets.TargetQuery) (targets.TargetList, error) {
	ns := q.Cluster.Namespace
	return targets.TargetList{Targets: []targets.Target{{Path: "deployment/api", Kind: "deployment", Namespace: ns, Available: true}}, CurrentNamespace: ns, Namespaces: []string{ns}}, nil
}

func (staticCatalog) DescribeTarget(context.Context, targets.ClusterRef, string) (string, error) {
	return "", errors.New("not implemented")
}

func (staticCatalog) CheckTarget(context.Context, targets.ClusterRef, string) (targets.TargetCheck, error) {
	return targets.TargetCheck{}, nil
}

// TestTargetCatalogSeam: a TargetCatalog adds mirrord/listTargets to the
// method table and to what initialize advertises.
func TestTargetCatalogSeam(t *testing.T) {
	c := startClient(t, Options{Targets: staticCatalog{}})
	res := c.initialize(t.TempDir())
	exp, _ := json.Marshal(res.Capabilities.Experimental)
	if !strings.Contains(string(exp), "mirrord/listTargets") {
		t.Errorf("experimental = %s, want mirrord/listTargets advertised", exp)
	}
	var list targets.TargetList
	c.call("mirrord/listTargets", ListTargetsParams{Namespace: "staging"}, &list)
	if len(list.Targets) != 1 || list.CurrentNamespace != "staging" {
		t.Errorf("listTargets = %+v", list)
	}
}

func applyEdits(t *testing.T, text string, edits []protocol.TextEdit) string {
	t.Helper()
	// Single-line documents only: ranges are columns of line 0.
	slices.SortFunc(edits, func(a, b protocol.TextEdit) int { return int(b.Range.Start.Character) - int(a.Range.Start.Character) })
	lines := strings.Split(text, "\n")
	if len(lines) != 1 {
		out := text
		for _, e := range edits {
			start := offsetOf(text, e.Range.Start)
			end := offsetOf(text, e.Range.End)
			out = out[:start] + e.NewText + out[end:]
		}
		return out
	}
	for _, e := range edits {
		text = text[:e.Range.Start.Character] + e.NewText + text[e.Range.End.Character:]
	}
	return text
}

func offsetOf(text string, p protocol.Position) int {
	off := 0
	for i := uint32(0); i < p.Line; i++ {
		off += strings.IndexByte(text[off:], '\n') + 1
	}
	return off + int(p.Character)
}

func TestCodeActions(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)

	t.Run("did you mean", func(t *testing.T) {
		text := `{"agnet": {}, "feature": {"fs": {"mode": "rad"}}}`
		uri := c.open(dir, "dym-mirrord.json", text)
		diags := c.diagnostics(uri, nil).Diagnostics
		var actions []protocol.CodeAction
		c.call("textDocument/codeAction", protocol.CodeActionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: uri},
			Range:        protocol.Range{End: protocol.Position{Character: uint32(len(text))}},
			Context:      protocol.CodeActionContext{Diagnostics: diags},
		}, &actions)
		var titles []string
		var edits []protocol.TextEdit
		for _, a := range actions {
			titles = append(titles, a.Title)
			if a.Kind == protocol.QuickFix {
				edits = append(edits, a.Edit.Changes[uri]...)
			}
		}
		if !slices.Contains(titles, `Change to "agent"`) || !slices.Contains(titles, `Change to "read"`) {
			t.Errorf("actions %q lack the key or the value fix", titles)
		}
		if got := applyEdits(t, text, edits); got != `{"agent": {}, "feature": {"fs": {"mode": "read"}}}` {
			t.Errorf("after the fixes: %s", got)
		}

		// Without data in the client's diagnostics the server still knows.
		for i := range diags {
			diags[i].Data = nil
		}
		c.call("textDocument/codeAction", protocol.CodeActionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: uri},
			Range:        protocol.Range{End: protocol.Position{Character: uint32(len(text))}},
			Context:      protocol.CodeActionContext{Diagnostics: diags},
		}, &actions)
		if len(actions) < 2 || actions[0].Title != `Change to "agent"` {
			t.Errorf("without diagnostic data: %+v", actions)
		}
	})

	for _, tc := range []struct {
		name, file, text, title, want string
	}{
		{"json to object", "t1-mirrord.json", `{"target": "deployment/api", "feature": {}}`, toObjectTitleTest, `{"target": {"path": "deployment/api"}, "feature": {}}`},
		{"json to string", "t2-mirrord.json", `{"target": {"path": "pod/x"}}`, toStringTitleTest, `{"target": "pod/x"}`},
		{"yaml to object", ".mirrord/t3.yaml", "target: pod/x\nfeature:\n  env: true\n", toObjectTitleTest, "target:\n  path: pod/x\nfeature:\n  env: true\n"},
		{"yaml to string", ".mirrord/t4.yaml", "target:\n  path: pod/x\nfeature:\n  env: true\n", toStringTitleTest, "target: pod/x\nfeature:\n  env: true\n"},
		{"toml to object", ".mirrord/t5.toml", "target = \"pod/x\"\n[feature]\nenv = true\n", toObjectTitleTest, "target = { path = \"pod/x\" }\n[feature]\nenv = true\n"},
		{"toml to string", ".mirrord/t6.toml", "target = { path = \"pod/x\" }\n", toStringTitleTest, "target = \"pod/x\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := c.open(dir, tc.file, tc.text)
			var actions []protocol.CodeAction
			c.call("textDocument/codeAction", protocol.CodeActionParams{
				TextDocument: protocol.TextDocumentIdentifier{URI: uri},
				Range:        protocol.Range{Start: protocol.Position{Character: 3}, End: protocol.Position{Character: 3}},
			}, &actions)
			var found *protocol.CodeAction
			for i := range actions {
				if actions[i].Title == tc.title {
					found = &actions[i]
				}
			}
			if found == nil {
				t.Fatalf("no %q action in %+v", tc.title, actions)
			}
			if got := applyEdits(t, tc.text, found.Edit.Changes[uri]); got != tc.want {
				t.Errorf("after %q:\n%s\nwant:\n%s", tc.title, got, tc.want)
			}
		})
	}
	t.Run("target with namespace stays", func(t *testing.T) {
		uri := c.open(dir, "t7-mirrord.json", `{"target": {"path": "pod/x", "namespace": "a"}}`)
		var actions []protocol.CodeAction
		c.call("textDocument/codeAction", protocol.CodeActionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}}, &actions)
		if len(actions) != 0 {
			t.Errorf("converting would drop the namespace, yet got %+v", actions)
		}
	})
}

const (
	toObjectTitleTest = "Convert target to object form"
	toStringTitleTest = "Convert target to string form"
)

// blockingCluster blocks every completion until the context ends: a stand
// in for a slow cluster, which cannot run here.
type blockingCluster struct{ started chan struct{} }

func (b blockingCluster) CompleteCluster(ctx context.Context, _ targets.ClusterQuery) (targets.ClusterAnswer, error) {
	close(b.started)
	<-ctx.Done()
	return targets.ClusterAnswer{}, ctx.Err()
}

func TestCancelRequest(t *testing.T) {
	cluster := blockingCluster{started: make(chan struct{})}
	c := startClient(t, Options{Cluster: cluster})
	dir := t.TempDir()
	c.initialize(dir)
	uri := c.open(dir, "mirrord.json", `{"target": ""}`)
	id := c.send("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: 0, Character: 12}}})
	select {
	case <-cluster.started:
	case <-time.After(waitTimeout):
		t.Fatal("the cluster completer was not called")
	}
	// The server keeps answering while the completion runs.
	c.call("mirrord/discoverConfig", map[string]any{}, nil)
	c.notify("$/cancelRequest", map[string]any{"id": json.RawMessage(idKey(id))})
	resp := c.wait(id)
	var werr *jsonrpc2.Error
	if resp.Err() == nil || !errorsAs(resp.Err(), &werr) || werr.Code != protocol.CodeRequestCancelled {
		t.Fatalf("cancelled completion answered %v / %s, want RequestCancelled", resp.Err(), resp.Result())
	}
	// Cancelling an unknown or finished request is harmless.
	c.notify("$/cancelRequest", map[string]any{"id": 9999})
	c.notify("$/cancelRequest", map[string]any{"id": "nope"})
	c.notify("$/cancelRequest", map[string]any{"id": []int{1}})
	c.call("mirrord/discoverConfig", map[string]any{}, nil)
}

func TestBadInput(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.initialize(dir)
	uri := c.open(dir, "mirrord.json", `{"feature": {}}`)
	c.diagnostics(uri, nil)

	// Malformed frames: not JSON, JSON but not a message, a bad header.
	frame := func(body string) []byte {
		return []byte("Content-Length: " + itoaTest(len(body)) + "\r\n\r\n" + body)
	}
	c.writeRaw(frame(`{"jsonrpc": "2.0", "id": 1, "method": `))
	c.writeRaw(frame(`{"jsonrpc": "2.0", "id": 77, "method": "x", "result": 1}`))
	c.writeRaw([]byte("Garbage-Without-Colon\r\n"))
	c.writeRaw([]byte("Content-Length: nope\r\n\r\n"))
	c.writeRaw(frame(`[]`))
	c.waitFor("the parse and invalid request errors", func() bool {
		parse, batch, invalid := false, false, false
		for _, r := range c.nullReplies {
			var werr *jsonrpc2.Error
			if errorsAs(r.Err(), &werr) {
				parse = parse || werr.Code == jsonrpc2.ParseError
				batch = batch || werr.Code == jsonrpc2.InvalidRequest
			}
		}
		if r := c.replies[idKey(jsonrpc2.NewNumberID(77))]; r != nil {
			var werr *jsonrpc2.Error
			invalid = errorsAs(r.Err(), &werr) && werr.Code == jsonrpc2.InvalidRequest
		}
		return parse && batch && invalid
	})

	pos := func(line, char uint32) protocol.TextDocumentPositionParams {
		return protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: line, Character: char}}
	}
	// Malformed params.
	for _, tc := range []struct {
		method string
		params any
	}{
		{"textDocument/completion", []int{1, 2}},
		{"textDocument/completion", map[string]any{"textDocument": 5}},
		{"textDocument/completion", map[string]any{"position": map[string]any{"line": -1}}},
		{"textDocument/hover", "string params"},
		{"textDocument/codeAction", map[string]any{"textDocument": map[string]any{"uri": ""}}},
		{"mirrord/verifyConfig", map[string]any{}},
		{"mirrord/verifyConfig", map[string]any{"ide": "yes"}},
		{"workspace/executeCommand", map[string]any{"command": "nope"}},
		{"workspace/executeCommand", map[string]any{"command": CommandVerifyConfig, "arguments": []any{42}}},
		{"mirrord/discoverConfig", map[string]any{"workspaceFolder": "file://%zz"}},
	} {
		if e := c.callErr(tc.method, tc.params); e.Code != jsonrpc2.InvalidParams {
			t.Errorf("%s %v: code %d (%s), want InvalidParams", tc.method, tc.params, e.Code, e.Message)
		}
	}
	// Notifications with bad params and bad edits are logged, not fatal.
	c.notify("textDocument/didOpen", []int{1})
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2},
		"contentChanges": []any{map[string]any{"range": map[string]any{"start": map[string]any{"line": 0, "character": 9}, "end": map[string]any{"line": 0, "character": 2}}, "text": "x"}}})
	c.notify("textDocument/didChange", map[string]any{"textDocument": "nope"})
	// A position past the end is clamped, as the specification says.
	var list protocol.CompletionList
	c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: pos(40, 99)}, &list)
	// The document was not damaged by the refused edit.
	var h *protocol.Hover
	c.call("textDocument/hover", pos(0, 4), &h)
	if h == nil || !strings.Contains(h.Contents.Value, "**feature**") {
		t.Errorf("hover after refused edits: %+v", h)
	}
	if code := c.shutdownAndExit(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func itoaTest(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNumber(n)) }

func jsonNumber(n int) string { b, _ := json.Marshal(n); return string(b) }

func errorsAs(err error, target **jsonrpc2.Error) bool {
	if err == nil {
		return false
	}
	e, ok := err.(*jsonrpc2.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestVerifyAndDiscover(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".mirrord"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, ".mirrord", "mirrord.json")
	if err := os.WriteFile(cfg, []byte(`{"target": "deployment/api", "feature": {"env": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.initialize(dir)

	var disc DiscoverConfigResult
	c.call("mirrord/discoverConfig", map[string]any{}, &disc)
	if disc.Source != "default" || disc.Path != cfg || disc.URI != lsp.URIFromPath(cfg) {
		t.Errorf("discoverConfig = %+v", disc)
	}
	c.call("mirrord/discoverConfig", map[string]any{"env": map[string]string{"MIRRORD_CONFIG_FILE": cfg}}, &disc)
	if disc.Source != "env" {
		t.Errorf("with MIRRORD_CONFIG_FILE: %+v", disc)
	}
	c.call("workspace/executeCommand", protocol.ExecuteCommandParams{Command: CommandDiscoverConfig, Arguments: []any{json.RawMessage(mustJSON(t, map[string]any{"active": lsp.URIFromPath(cfg)}))}}, &disc)
	if disc.Source != "active" {
		t.Errorf("executeCommand discover with active: %+v", disc)
	}
	empty := t.TempDir()
	disc = DiscoverConfigResult{}
	c.call("mirrord/discoverConfig", map[string]any{"workspaceFolder": empty}, &disc)
	if disc.Source != "none" || disc.Path != "" {
		t.Errorf("empty folder: %+v", disc)
	}

	var v VerifyConfigResult
	c.call("mirrord/verifyConfig", map[string]any{"path": cfg}, &v)
	if v.Type != "Success" || v.Config == nil || v.Format != "json" {
		t.Fatalf("verifyConfig = %+v", v)
	}
	if b, _ := json.Marshal(v.Config); string(b) != `{"path":{"container":null,"deployment":"api"},"namespace":null,"target":"deployment/api"}` {
		t.Errorf("config = %s", b)
	}
	if got := strings.Join(v.CompatibleTargetTypes, ","); got != "targetless,pod,deployment,rollout,job,cronjob,statefulset,service,replicaset" {
		t.Errorf("compatible_target_types = %s", got)
	}
	// An open document is verified as the editor holds it.
	uri := lsp.URIFromPath(cfg)
	c.notify("textDocument/didOpen", protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{URI: uri, LanguageID: "json", Version: 1, Text: "{\n  \"feture\": 1\n}"}})
	c.diagnostics(uri, nil)
	c.call("workspace/executeCommand", protocol.ExecuteCommandParams{Command: CommandVerifyConfig, Arguments: []any{json.RawMessage(mustJSON(t, map[string]any{"uri": uri}))}}, &v)
	if v.Type != "Fail" || len(v.Errors) == 0 || len(v.Diagnostics) == 0 {
		t.Fatalf("verify of the open buffer = %+v", v)
	}
	d := v.Diagnostics[0]
	if d.Range.Start.Line != 1 || d.Pointer != "/feture" || d.Severity != "error" || d.Suggestion != "feature" {
		t.Errorf("diagnostic = %+v", d)
	}
	if e := c.callErr("mirrord/verifyConfig", map[string]any{"path": filepath.Join(dir, "missing.json")}); e.Code != lsp.CodeRequestFailed {
		t.Errorf("missing file: code %d", e.Code)
	}
}

// TestDiagnosticsDebounce: with a delay (initializationOptions), a burst
// of edits is validated once, for its last version.
func TestDiagnosticsDebounce(t *testing.T) {
	c := startClient(t, Options{})
	dir := t.TempDir()
	c.call("initialize", map[string]any{"capabilities": map[string]any{}, "initializationOptions": map[string]any{"diagnosticsDelayMs": 300}}, nil)
	c.notify("initialized", map[string]any{})
	uri := c.open(dir, "mirrord.json", `{}`)
	c.diagnostics(uri, nil)
	const burst = 20
	for v := 2; v <= burst+1; v++ {
		c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
			TextDocument:   protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: int32(v)},
			ContentChanges: []lsp.TextDocumentContentChangeEvent{{Text: fmt.Sprintf(`{"key": "k%d"}`, v)}},
		})
	}
	c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == burst+1 })
	published := 0
	c.mu.Lock()
	for _, n := range c.notes {
		if n.method == "textDocument/publishDiagnostics" {
			published++
		}
	}
	c.mu.Unlock()
	// One for the open, one (rarely two, on a very slow machine) for the burst.
	if published > 3 {
		t.Errorf("%d publications for %d edits: the burst was not debounced", published-1, burst)
	}
}

// TestParentProcessGone: the server exits when the editor process named in
// initialize dies.
func TestParentProcessGone(t *testing.T) {
	editor := exec.Command("sleep", "60")
	if err := editor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = editor.Process.Kill(); _ = editor.Wait() })
	srvOpts := Options{}
	c := startClient(t, srvOpts)
	c.srv.parentPoll = 20 * time.Millisecond
	c.call("initialize", map[string]any{"processId": editor.Process.Pid, "capabilities": map[string]any{}}, nil)
	c.call("mirrord/discoverConfig", map[string]any{}, nil) // alive while the editor lives
	_ = editor.Process.Kill()
	_ = editor.Wait()
	select {
	case code := <-c.exit:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		c.exit <- code
	case <-time.After(waitTimeout):
		t.Fatal("the server outlived its editor")
	}
}

// TestInitializeLenientCapabilities: a client capability whose JSON type
// differs from go.lsp.dev/protocol's (LSP 3.16) is ignored, not a failed
// handshake; malformed params outside the capabilities still are.
func TestInitializeLenientCapabilities(t *testing.T) {
	c := startClient(t, Options{})
	if e := c.callErr("initialize", map[string]any{"processId": "me", "capabilities": map[string]any{}}); e.Code != jsonrpc2.InvalidParams {
		t.Errorf("processId of the wrong type: code %d, want InvalidParams", e.Code)
	}
	var res protocol.InitializeResult
	c.call("initialize", map[string]any{
		"capabilities": map[string]any{
			"textDocument": map[string]any{"completion": map[string]any{"completionItem": map[string]any{"snippetSupport": "yes"}}},
			"workspace":    map[string]any{"didChangeWatchedFiles": map[string]any{"dynamicRegistration": true}},
		},
	}, &res)
	if res.ServerInfo == nil || res.ServerInfo.Name != "mirrord-ls" {
		t.Fatalf("initialize = %+v", res)
	}
	if c.srv.snippets() {
		t.Error("a snippetSupport of the wrong type turned snippets on")
	}
	c.srv.mu.Lock()
	ws := c.srv.caps.Workspace
	c.srv.mu.Unlock()
	if ws == nil || ws.DidChangeWatchedFiles == nil || !ws.DidChangeWatchedFiles.DynamicRegistration {
		t.Errorf("the well-typed capabilities were lost: %+v", ws)
	}
}

// TestUnencodableResult: a result that cannot be encoded is answered with
// InternalError (jsonrpc2 alone would write nothing and leave the client
// waiting), and the server keeps answering.
func TestUnencodableResult(t *testing.T) {
	c := startClient(t, Options{})
	// Registered before the first message: the pipe orders it before the
	// server's read of the table.
	c.srv.methods["test/unencodable"] = request(false, func(context.Context, struct{}) (any, error) {
		return map[string]any{"nan": math.NaN()}, nil
	})
	c.initialize(t.TempDir())
	if e := c.callErr("test/unencodable", map[string]any{}); e.Code != jsonrpc2.InternalError {
		t.Errorf("unencodable result: code %d (%s), want InternalError", e.Code, e.Message)
	}
	c.call("mirrord/discoverConfig", map[string]any{}, nil)
}
