package kubetargets

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, func() int { return kubetest.Run(m) }))
}

const limitedContext = "mirrord-local-limited"

func paths(ts []targets.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Path
	}
	return out
}

func want(m map[string][]string, kinds ...string) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, m[k]...)
	}
	return out
}

// TestClusterFeatures drives the language server against the local
// control plane: listTargets, completion, hover and the missing-target
// diagnostic.
func TestClusterFeatures(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	populated := c.PopulateTargets(t, ns)
	cl := startServer(t, c.Kubeconfig, Options{})

	t.Run("listTargets", func(t *testing.T) {
		uri := cl.open("mirrord.json", fmt.Sprintf(`{"target": {"namespace": %q}}`, ns))
		tests := []struct {
			name   string
			params server.ListTargetsParams
			want   []string
		}{
			{"default kinds", server.ListTargetsParams{ConfigURI: uri}, want(populated.Available, "pod", "deployment", "rollout")},
			{"kinds", server.ListTargetsParams{ConfigURI: uri, Kinds: []string{"statefulset", "service"}}, want(populated.Available, "statefulset", "service")},
			{"namespace override", server.ListTargetsParams{Namespace: ns, TargetTypes: []string{"deploy"}}, want(populated.Available, "deployment")},
			{"unavailable too", server.ListTargetsParams{ConfigURI: uri, Kinds: []string{"deployment"}, IncludeUnavailable: true},
				want(map[string][]string{"d": append(slices.Clone(populated.Available["deployment"]), populated.Unavailable["deployment"]...)}, "d")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var got targets.TargetList
				cl.call("mirrord/listTargets", tc.params, &got)
				w := slices.Clone(tc.want)
				slices.Sort(w)
				g := paths(got.Targets)
				slices.Sort(g)
				if !slices.Equal(g, w) {
					t.Errorf("targets = %v, want %v", g, w)
				}
				if got.CurrentNamespace != ns || !slices.Contains(got.Namespaces, ns) || !slices.Contains(got.Namespaces, "default") {
					t.Errorf("current %q, namespaces %v", got.CurrentNamespace, got.Namespaces)
				}
				if len(got.Warnings) != 0 {
					t.Errorf("warnings = %v", got.Warnings)
				}
			})
		}
		// The same through workspace/executeCommand.
		var got targets.TargetList
		cl.call(protocol.MethodWorkspaceExecuteCommand, map[string]any{
			"command": server.CommandListTargets, "arguments": []any{map[string]any{"configUri": uri, "kinds": []string{"statefulset"}}},
		}, &got)
		if g := paths(got.Targets); !slices.Equal(g, populated.Available["statefulset"]) {
			t.Errorf("executeCommand targets = %v, want %v", g, populated.Available["statefulset"])
		}
		// Bad kinds are a clear error.
		if err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{Kinds: []string{"pods"}}, nil); err == nil || !strings.Contains(err.Error(), `unknown target kind "pods"`) {
			t.Errorf("unknown kind: %v", err)
		}
	})

	t.Run("limited user", func(t *testing.T) {
		lns := c.Namespace(t)
		c.GrantLimited(t, lns,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list", "watch"}})
		uri := cl.open("mirrord.json", fmt.Sprintf(`{"kube_context": %q, "target": {"namespace": %q}}`, limitedContext, lns))
		var got targets.TargetList
		// RBAC reaches the API server's cache shortly after the binding.
		kubetest.Eventually(t, kubetest.WaitTimeout, "limited listing", func(context.Context) (bool, error) {
			got = targets.TargetList{}
			err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{ConfigURI: uri, Kinds: []string{"pod", "deployment"}}, &got)
			return err == nil && len(got.Warnings) == 1, nil
		})
		if !slices.Equal(got.Namespaces, []string{lns}) || got.Warnings[0] != listing.NamespacesForbiddenWarning(lns) {
			t.Errorf("namespaces %v, warnings %v", got.Namespaces, got.Warnings)
		}
	})

	t.Run("completion", func(t *testing.T) {
		tests := []struct {
			file, text string
			want       []string // labels that must be offered
		}{
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "|"}}`, []string{"pod/", "deployment/", "statefulset/", "targetless"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "deployment/|"}}`, []string{"deployment/web", "deployment/idle"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "deploy/w|"}}`, []string{"deploy/web"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "pod/multi/|"}}`, []string{"pod/multi/container/first", "pod/multi/container/second"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "statefulset/|"}}`, []string{"statefulset/db"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": {"deployment": "|"}}}`, []string{"web", "idle"}},
			{"mirrord.json", `{"target": {"namespace": "NS", "path": {"deployment": "web", "container": "|"}}}`, []string{"app"}},
			{"mirrord.json", `{"target": {"namespace": "|"}}`, []string{"NS", "default"}},
			{"mirrord.json", `{"agent": {"namespace": "|"}}`, []string{"NS", "kube-system"}},
			{"mirrord.json", `{"target": "|"}`, []string{"pod/", "rollout/"}},
			// Half typed: the rest of the document is not there yet.
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "deployment/|`, []string{"deployment/web"}},
			{"mirrord.yaml", "target:\n  namespace: NS\n  path: |\n", []string{"deployment/", "targetless"}},
			{"mirrord.yaml", "target:\n  namespace: NS\n  path: service/|\n", []string{"service/backend", "service/external"}},
			{"mirrord.yaml", "target:\n  namespace: NS\n  path: deployment/web/|\n", []string{"deployment/web/container/app"}},
			{"mirrord.yaml", "target:\n  namespace: NS\n  path:\n    stateful_set: |\n", []string{"db"}},
			{"mirrord.yaml", "agent:\n  namespace: |\n", []string{"NS"}},
			{"mirrord.toml", "[target]\nnamespace = \"NS\"\npath = \"|\"\n", []string{"pod/", "job/"}},
			{"mirrord.toml", "[target]\nnamespace = \"NS\"\npath = \"rollout/|\"\n", []string{"rollout/canary"}},
			{"mirrord.toml", "[target]\nnamespace = \"NS\"\npath = \"pod/multi/|\"\n", []string{"pod/multi/container/second"}},
			{"mirrord.toml", "[target]\nnamespace = \"NS\"\n[target.path]\ncron_job = \"|\"\n", []string{"nightly"}},
			{"mirrord.toml", "[target]\nnamespace = \"|\"\n", []string{"NS"}},
		}
		for _, tc := range tests {
			t.Run(tc.file+" "+tc.text, func(t *testing.T) {
				text, pos := marked(t, strings.ReplaceAll(tc.text, "NS", ns))
				uri := cl.open(tc.file, text)
				wantLabels := make([]string, len(tc.want))
				for i, w := range tc.want {
					wantLabels[i] = strings.ReplaceAll(w, "NS", ns)
				}
				// A cold cache may answer incomplete lists: the editor asks
				// again, as this loop does.
				var labels []string
				incomplete := false
				kubetest.Eventually(t, kubetest.WaitTimeout, "completion "+strings.Join(wantLabels, ","), func(context.Context) (bool, error) {
					var list protocol.CompletionList
					cl.call(protocol.MethodTextDocumentCompletion, protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
						TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: pos}}, &list)
					labels, incomplete = labels[:0], list.IsIncomplete
					for _, it := range list.Items {
						labels = append(labels, it.Label)
					}
					for _, w := range wantLabels {
						if !slices.Contains(labels, w) {
							return false, nil
						}
					}
					return true, nil
				})
				// The kinds stage is incomplete: names follow once one is chosen.
				if slices.Contains(wantLabels, "pod/") && !incomplete {
					t.Errorf("the list of kinds is not marked incomplete")
				}
				if strings.Contains(tc.text, "/|") && slices.ContainsFunc(labels, func(l string) bool { return strings.HasSuffix(l, "/") }) {
					t.Errorf("kinds offered after a kind was typed: %v", labels)
				}
			})
		}
	})

	t.Run("hover", func(t *testing.T) {
		text, pos := marked(t, fmt.Sprintf(`{"target": {"namespace": %q, "path": "deployment/w|eb"}}`, ns))
		uri := cl.open("mirrord.json", text)
		var h protocol.Hover
		cl.call(protocol.MethodTextDocumentHover, protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: pos}, &h)
		md := h.Contents.Value
		for _, w := range []string{"**deployment/web** in namespace `" + ns + "`", "A session would use pod `web-", "container `app`", "| Running | yes |", "istio-proxy (sidecar) ✓", "app ✓"} {
			if !strings.Contains(md, w) {
				t.Errorf("hover lacks %q:\n%s", w, md)
			}
		}
		if strings.Count(md, "| `web-") != 2 {
			t.Errorf("hover should list the 2 pods of web:\n%s", md)
		}
		pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			row := fmt.Sprintf("| `%s` | Running | yes | %s | %s |", p.Name, p.Spec.NodeName, p.Status.PodIP)
			if p.Spec.NodeName == "" || !strings.Contains(md, row) {
				t.Errorf("hover lacks the row %q:\n%s", row, md)
			}
		}
	})

	t.Run("missing target", func(t *testing.T) {
		tests := []struct {
			file, text, value, message, suggestion string
		}{
			{"mirrord.json", `{"target": {"namespace": "NS", "path": "deployment/wbe"}}`, `"deployment/wbe"`, `deployment "wbe" not found in namespace "NS" (did you mean web?)`, "deployment/web"},
			{"mirrord.yaml", "target:\n  namespace: NS\n  path:\n    deployment: wbe\n", "wbe", `(did you mean web?)`, "web"},
			{"mirrord.toml", "[target]\nnamespace = \"NS\"\npath = \"pod/multi/container/secnd\"\n", `"pod/multi/container/secnd"`, `container "secnd" not found in the pods of pod/multi`, "pod/multi/container/second"},
		}
		for _, tc := range tests {
			t.Run(tc.file, func(t *testing.T) {
				text := strings.ReplaceAll(tc.text, "NS", ns)
				uri := cl.open(tc.file, text)
				got, _ := cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) > 0 })
				if len(got.Diagnostics) != 1 {
					t.Fatalf("diagnostics = %+v, want one", got.Diagnostics)
				}
				d := got.Diagnostics[0]
				if !strings.Contains(d.Message, strings.ReplaceAll(tc.message, "NS", ns)) || d.Severity != protocol.DiagnosticSeverityWarning || d.Code != "TARGET-NOT-FOUND" {
					t.Errorf("diagnostic = %+v, want a warning %q", d, tc.message)
				}
				start := strings.Index(text, tc.value)
				wantRange := protocol.Range{Start: position(text, start), End: position(text, start+len(tc.value))}
				if d.Range != wantRange {
					t.Errorf("range = %+v, want %+v (%s)", d.Range, wantRange, tc.value)
				}
				var data struct{ Suggestion string }
				raw, _ := json.Marshal(d.Data)
				if json.Unmarshal(raw, &data); data.Suggestion != tc.suggestion {
					t.Errorf("suggestion = %q, want %q", data.Suggestion, tc.suggestion)
				}
			})
		}
		// An existing target gets no diagnostic once checked: an edit to a
		// valid target clears it.
		uri := cl.open("mirrord.json", fmt.Sprintf(`{"target": {"namespace": %q, "path": "deployment/wbe"}}`, ns))
		cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) == 1 })
		fixed := fmt.Sprintf(`{"target": {"namespace": %q, "path": "deployment/web"}}`, ns)
		cl.notify(protocol.MethodTextDocumentDidChange, map[string]any{
			"textDocument": map[string]any{"uri": uri, "version": 2}, "contentChanges": []any{map[string]any{"text": fixed}},
		})
		cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool {
			return p.Version != nil && *p.Version == 2 && len(p.Diagnostics) == 0
		})

		// A target created after the check: didChangeWatchedFiles checks
		// again (the cache sees the new pod through its watch).
		lateURI := cl.open("mirrord.json", fmt.Sprintf(`{"target": {"namespace": %q, "path": "pod/late"}}`, ns))
		cl.diagnostics(lateURI, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) == 1 })
		c.CreatePod(t, ns, kubetest.Pod("late", nil, nil, "app"))
		kubetest.Eventually(t, kubetest.WaitTimeout, "the diagnostic of pod/late cleared", func(context.Context) (bool, error) {
			cl.notify(protocol.MethodWorkspaceDidChangeWatchedFiles, map[string]any{"changes": []any{}})
			all := cl.allDiagnostics(lateURI)
			return len(all[len(all)-1].Diagnostics) == 0, nil
		})
	})
}

func position(text string, off int) protocol.Position {
	before := text[:off]
	return protocol.Position{Line: uint32(strings.Count(before, "\n")), Character: uint32(off - (strings.LastIndexByte(before, '\n') + 1))}
}

// deadKubeconfig writes a kubeconfig whose server is a loopback address:
// refusing connections (a closed port) or accepting and never answering.
// accepted is closed when the silent server accepts its first connection.
func deadKubeconfig(t *testing.T, silent bool) (path string, accepted chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	accepted = make(chan struct{})
	if silent {
		t.Cleanup(func() { ln.Close() })
		go func() {
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if len(conns) == 0 {
					close(accepted)
				}
				conns = append(conns, c)
			}
		}()
	} else {
		ln.Close()
	}
	path = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: dead
clusters:
- name: dead
  cluster: {server: "https://%s", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: x}
contexts:
- name: dead
  context: {cluster: dead, user: u, namespace: default}
`, addr)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, accepted
}

// TestUnreachableCluster: a cluster that refuses connections gives one
// clear diagnostic on the target, and never delays the schema diagnostics.
func TestUnreachableCluster(t *testing.T) {
	kubeconfig, _ := deadKubeconfig(t, false)
	cl := startServer(t, kubeconfig, Options{})
	// An unknown key (a schema warning) besides the target.
	text := `{"target": "deployment/api", "feture": {}}`
	began := time.Now()
	uri := cl.open("mirrord.json", text)
	first, firstAt := cl.diagnostics(uri, 10*time.Second, func(p lsp.PublishDiagnosticsParams) bool { return len(p.Diagnostics) > 0 })
	if d := firstAt.Sub(began); d > time.Second {
		t.Errorf("schema diagnostics took %v", d)
	}
	if !slices.ContainsFunc(first.Diagnostics, func(d protocol.Diagnostic) bool { return strings.Contains(d.Message, "feture") }) {
		t.Fatalf("first diagnostics lack the schema finding: %+v", first.Diagnostics)
	}
	isCluster := func(d protocol.Diagnostic) bool { return d.Code == "TARGET-NOT-CHECKED" }
	got, _ := cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool {
		return slices.ContainsFunc(p.Diagnostics, isCluster)
	})
	var cluster []protocol.Diagnostic
	for _, d := range got.Diagnostics {
		if isCluster(d) {
			cluster = append(cluster, d)
		}
	}
	if len(cluster) != 1 || len(got.Diagnostics) != len(first.Diagnostics)+1 {
		t.Fatalf("diagnostics = %+v, want the schema ones and one cluster diagnostic", got.Diagnostics)
	}
	d := cluster[0]
	start := strings.Index(text, `"deployment/api"`)
	if !strings.HasPrefix(d.Message, "cluster unreachable: ") || !strings.HasSuffix(d.Message, "; target not checked") ||
		d.Range != (protocol.Range{Start: position(text, start), End: position(text, start+len(`"deployment/api"`))}) {
		t.Errorf("cluster diagnostic = %+v", d)
	}
	// Edits elsewhere keep exactly one cluster diagnostic (from the cache).
	for v := int32(2); v <= 6; v++ {
		text = fmt.Sprintf(`{"target": "deployment/api", "feture": {}, "n%d": 1}`, v)
		cl.notify(protocol.MethodTextDocumentDidChange, map[string]any{
			"textDocument": map[string]any{"uri": uri, "version": v}, "contentChanges": []any{map[string]any{"text": text}},
		})
	}
	last, _ := cl.diagnostics(uri, waitTimeout, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == 6 })
	for _, p := range cl.allDiagnostics(uri) {
		if n := len(slices.DeleteFunc(slices.Clone(p.Diagnostics), func(d protocol.Diagnostic) bool { return !isCluster(d) })); n > 1 {
			t.Errorf("a publication has %d cluster diagnostics", n)
		}
	}
	if !slices.ContainsFunc(last.Diagnostics, isCluster) {
		t.Errorf("the cached cluster diagnostic was dropped: %+v", last.Diagnostics)
	}
	// Completion does not wait on the dead cluster: kinds come at once,
	// the list is incomplete.
	ctext, pos := marked(t, `{"target": "deployment/|"}`)
	curi := cl.open("mirrord.json", ctext)
	var list protocol.CompletionList
	cl.call(protocol.MethodTextDocumentCompletion, protocol.CompletionParams{TextDocumentPositionParams: protocol.TextDocumentPositionParams{
		TextDocument: protocol.TextDocumentIdentifier{URI: curi}, Position: pos}}, &list)
	if !list.IsIncomplete {
		t.Errorf("completion against a dead cluster is not marked incomplete: %+v", list)
	}
	// listTargets fails with a clear error.
	err := cl.tryCall("mirrord/listTargets", server.ListTargetsParams{}, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster unreachable") {
		t.Errorf("listTargets on a dead cluster: %v", err)
	}
}

// TestListTargetsCancel: a listTargets waiting on a cluster that never
// answers ends at $/cancelRequest.
func TestListTargetsCancel(t *testing.T) {
	kubeconfig, accepted := deadKubeconfig(t, true)
	cl := startServer(t, kubeconfig, Options{SyncTimeout: time.Minute})
	id := cl.send("mirrord/listTargets", server.ListTargetsParams{})
	// The request is waiting on the cluster, which never answers.
	select {
	case <-accepted:
	case <-time.After(waitTimeout):
		t.Fatal("listTargets never connected to the cluster")
	}
	cancelAt := time.Now()
	cl.notify("$/cancelRequest", map[string]any{"id": id})
	r := cl.wait(id)
	if r.err == nil || r.err.Code != protocol.CodeRequestCancelled {
		t.Fatalf("answer = %s / %v, want RequestCancelled", r.result, r.err)
	}
	if d := time.Since(cancelAt); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}
