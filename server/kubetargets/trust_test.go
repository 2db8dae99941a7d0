package kubetargets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// hostileWorkspace is a cloned repository whose config names its own
// kubeconfig, whose user runs an exec credential plugin: the plugin
// appends to marker and then hands out the local control plane's token,
// so a run of it both leaves a trace and reaches the cluster.
type hostileWorkspace struct {
	config string // .mirrord/mirrord.json
	text   string
	marker string
}

func newHostileWorkspace(t *testing.T, c *kubetest.Cluster, ns string) hostileWorkspace {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatalf("loading the test kubeconfig: %v", err)
	}
	kctx := raw.Contexts[raw.CurrentContext]
	if kctx == nil || raw.Clusters[kctx.Cluster] == nil || raw.AuthInfos[kctx.AuthInfo] == nil || raw.AuthInfos[kctx.AuthInfo].Token == "" {
		t.Fatalf("the test kubeconfig %s has no current context with a token user", c.Kubeconfig)
	}
	cluster, token := raw.Clusters[kctx.Cluster], raw.AuthInfos[kctx.AuthInfo].Token

	dir := t.TempDir()
	ws := hostileWorkspace{config: filepath.Join(dir, ".mirrord", "mirrord.json"), marker: filepath.Join(dir, "plugin-ran")}
	plugin := filepath.Join(dir, "plugin.sh")
	script := fmt.Sprintf("#!/bin/sh\necho ran >> '%s'\nprintf '%%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}'\n", ws.marker, token)
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: repo
  cluster: {server: %q, certificate-authority: %q}
contexts:
- name: repo
  context: {cluster: repo, user: repo}
current-context: repo
users:
- name: repo
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %q
      interactiveMode: Never
`, cluster.Server, cluster.CertificateAuthority, plugin)
	if err := os.WriteFile(filepath.Join(dir, "repo.kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(ws.config), 0o755); err != nil {
		t.Fatal(err)
	}
	ws.text = fmt.Sprintf(`{"kubeconfig": "../repo.kubeconfig", "target": {"namespace": %q, "path": "pod/ghost"}}`, ns)
	if err := os.WriteFile(ws.config, []byte(ws.text), 0o600); err != nil {
		t.Fatal(err)
	}
	return ws
}

func (ws hostileWorkspace) pluginRan() bool {
	_, err := os.Stat(ws.marker)
	return err == nil
}

func hasCode(p lsp.PublishDiagnosticsParams, code string) bool {
	for _, d := range p.Diagnostics {
		if fmt.Sprint(d.Code) == code {
			return true
		}
	}
	return false
}

// TestWorkspaceTrust opens a hostile repository with mirrord-ls wired to
// the real cluster helper: untrusted (the client says nothing, or says
// false), open + completion + hover + listTargets run no exec plugin and
// start no cluster contact, and say why; once the client grants trust the
// kubeconfig is used (the plugin runs, the target is checked).
func TestWorkspaceTrust(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	untrusted := []struct {
		name     string
		initOpts map[string]any
		grant    func(cl *client)
	}{
		{"silent client, granted by notification", nil, func(cl *client) {
			cl.notify(server.MethodDidChangeWorkspaceTrust, server.WorkspaceTrustParams{Trusted: true})
		}},
		{"untrusted, granted by configuration", map[string]any{"workspaceTrusted": false}, func(cl *client) {
			cl.notify(protocol.MethodWorkspaceDidChangeConfiguration, map[string]any{"settings": map[string]any{"mirrord": map[string]any{"workspaceTrusted": true}}})
		}},
	}
	for _, tc := range untrusted {
		t.Run(tc.name, func(t *testing.T) {
			ws := newHostileWorkspace(t, c, ns)
			cl := startServerInit(t, c.Kubeconfig, Options{}, tc.initOpts)
			uri := lsp.URIFromPath(ws.config)
			cl.notify(protocol.MethodTextDocumentDidOpen, protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{
				URI: uri, LanguageID: "json", Version: 1, Text: ws.text,
			}})
			got, _ := cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return hasCode(p, server.CodeWorkspaceNotTrusted) })
			for _, d := range got.Diagnostics {
				if fmt.Sprint(d.Code) == server.CodeWorkspaceNotTrusted && !strings.Contains(d.Message, "workspace not trusted") {
					t.Errorf("diagnostic %q does not say the workspace is not trusted", d.Message)
				}
			}

			pathAt := strings.Index(ws.text, "pod/ghost")
			var items protocol.CompletionList
			cl.call(protocol.MethodTextDocumentCompletion, protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
				TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: position(ws.text, pathAt+len("pod/")),
			}}, &items)
			var hover protocol.Hover
			cl.call(protocol.MethodTextDocumentHover, protocol.HoverParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
				TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: position(ws.text, pathAt+2),
			}}, &hover)
			if !strings.Contains(hover.Contents.Value, "workspace not trusted") {
				t.Errorf("hover = %q, want it to say the workspace is not trusted", hover.Contents.Value)
			}
			err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{ConfigURI: uri}, nil)
			if err == nil || !strings.Contains(err.Error(), "workspace not trusted") {
				t.Errorf("listTargets in an untrusted workspace: %v", err)
			}
			// Anything started asynchronously would have run by now.
			time.Sleep(500 * time.Millisecond)
			if ws.pluginRan() {
				t.Fatal("the exec plugin of a workspace-named kubeconfig ran in an untrusted workspace")
			}
			if pid := cl.cluster.helperPID(); pid != 0 {
				t.Errorf("the cluster helper was started (pid %d) for an untrusted workspace", pid)
			}

			tc.grant(cl)
			cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return hasCode(p, "TARGET-NOT-FOUND") })
			if !ws.pluginRan() {
				t.Error("trusted: the target was checked but the exec plugin never ran")
			}
		})
	}
}
