package layering

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mirrord-ls/mirrord-ls"

// rooms says what each top-level directory may import of ours (besides
// its own packages and the leaves in internal/). cmd, tools and e2e sit on
// top and may import anything.
var rooms = map[string][]string{
	"server":      {"schema"},                              // the LSP server: no client-go, no sessions in-process
	"session":     {"kube", "protocol", "layer", "schema"}, // starts sessions: agents, intproxy, launch env
	"portforward": {"kube", "protocol"},                    // -L/-R forwarding through an agent
	"kube":        {"schema", "protocol"},                  // client-go: targets, agent pods, port-forward
	"layer":       {"protocol"},                            // intproxy, supervisor, the C layer's wire
	"schema":      {},                                      // the config engine
	"protocol":    {},                                      // the agent wire protocol
	"agent":       {"protocol"},                            // the agent
	"internal":    {},                                      // leaves: shared types and small tools
	"cmd":         {"*"},                                   // binaries wire the rooms together
	"tools":       {"*"},                                   // build tools
	"e2e":         {"*"},                                   // end-to-end tests
	"extensions":  {"*"},                                   // editor clients and their tests
}

type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.CommandContext(t.Context(), "go", "list", "-e", "-json=ImportPath,Name,Imports,Deps", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// ours returns the path of a package of this module relative to it.
func ours(path string) (string, bool) {
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func room(rel string) string {
	r, _, _ := strings.Cut(rel, "/")
	return r
}

// testSupport: packages that exist for tests (kubetest, agenttest,
// servetest, editortest, testbin). They may import anything; production
// code may not import them.
func testSupport(rel string) bool {
	base := filepath.Base(rel)
	return strings.HasSuffix(base, "test") || base == "testbin"
}

// allowed reports whether package from may import package to (both
// relative to the module).
func allowed(from, to string) bool {
	rf, rt := room(from), room(to)
	if testSupport(to) {
		return testSupport(from) || slices.Contains(rooms[rf], "*")
	}
	if testSupport(from) || rf == rt || rt == "internal" {
		return true
	}
	may := rooms[rf]
	return slices.Contains(may, "*") || slices.Contains(may, rt)
}

func TestImportsFlowOneWay(t *testing.T) {
	for _, p := range listPackages(t) {
		from, ok := ours(p.ImportPath)
		if !ok {
			continue
		}
		if _, known := rooms[room(from)]; !known {
			t.Errorf("%s: top-level directory %q is not in the rooms map: add it with what it may import", from, room(from))
			continue
		}
		for _, imp := range p.Imports {
			to, ok := ours(imp)
			if !ok {
				continue
			}
			if !allowed(from, to) {
				t.Errorf("%s imports %s: %s may import only %v (and internal/ leaves)", from, to, room(from), rooms[room(from)])
			}
		}
	}
}

// TestBinariesDoNotLinkTheServer: the CLI (which also runs every intproxy
// and the cluster helper) and the agent carry no language server.
func TestBinariesDoNotLinkTheServer(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/cmd/mirrord" && p.ImportPath != module+"/cmd/mirrord-agent" {
			continue
		}
		for _, d := range p.Deps {
			if rel, ok := ours(d); ok && room(rel) == "server" {
				t.Errorf("%s links %s", p.ImportPath, d)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"server", "schema", true},
		{"server/assist", "internal/targets", true},
		{"server", "session", false},
		{"server", "kube/catalog", false},
		{"kube/clusterserve", "server", false},
		{"kube/clusterserve", "schema/configref", true},
		{"session/extclient", "server", false},
		{"layer/intproxy", "session", false},
		{"layer/intproxy", "protocol", true},
		{"layer/settings", "schema", false},
		{"schema", "session/jira", false},
		{"schema", "internal/jirasite", true},
		{"agent", "layer/settings", false},
		{"internal/targets", "server", false},
		{"internal/testbin", "agent/agenttest", true},
		{"session", "kube/kubetest", false},
		{"cmd/mirrord", "session", true},
		{"e2e/realnode", "kube/kubetest", true},
	} {
		if got := allowed(tc.from, tc.to); got != tc.want {
			t.Errorf("allowed(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
