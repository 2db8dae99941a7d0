package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
)

// recordingSessions counts the sessions the server asked for.
type recordingSessions struct{ started atomic.Int32 }

func (r *recordingSessions) StartSession(context.Context, sessionapi.StartSessionParams, func(string)) (sessionapi.LaunchEnvironment, error) {
	r.started.Add(1)
	return sessionapi.LaunchEnvironment{SessionID: "s1"}, nil
}

func (r *recordingSessions) ListSessions(context.Context) ([]sessionapi.SessionInfo, error) {
	return nil, nil
}

func (r *recordingSessions) StopSession(context.Context, string) error { return nil }

// TestStartSessionTrust: in an untrusted workspace mirrord/startSession
// refuses a kubeconfig named by the workspace's config or launch
// environment before anything runs; the user's own kubeconfig, and any
// kubeconfig in a trusted workspace, start the session.
func TestStartSessionTrust(t *testing.T) {
	home := t.TempDir()
	own := filepath.Join(home, ".kube", "config")
	ws := t.TempDir()
	cfg := func(body string) string {
		p := filepath.Join(ws, ".mirrord", "mirrord.json")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(k string) (string, bool) {
		if k == "HOME" {
			return home, true
		}
		return "", false
	}
	for _, tc := range []struct {
		name      string
		trusted   bool
		config    string
		env       map[string]string
		refusedBy string // "" when the session starts
	}{
		{"no kubeconfig", false, `{"target": "pod/a"}`, nil, ""},
		{"config names a workspace kubeconfig", false, `{"kubeconfig": "evil.yaml"}`, nil, "names the kubeconfig"},
		{"config names the user's", false, `{"kubeconfig": "~/.kube/config"}`, nil, ""},
		{"launch env KUBECONFIG", false, `{}`, map[string]string{"KUBECONFIG": filepath.Join(ws, "evil.yaml")}, "KUBECONFIG="},
		{"launch env MIRRORD_KUBECONFIG relative", false, `{}`, map[string]string{"MIRRORD_KUBECONFIG": "evil.yaml"}, "MIRRORD_KUBECONFIG="},
		{"launch env the user's", false, `{}`, map[string]string{"KUBECONFIG": own}, ""},
		{"trusted workspace", true, `{"kubeconfig": "evil.yaml"}`, map[string]string{"KUBECONFIG": "evil.yaml"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sessions := &recordingSessions{}
			c := startClient(t, Options{Sessions: sessions, LookupEnv: env})
			c.initialize(ws)
			c.notify(MethodDidChangeWorkspaceTrust, WorkspaceTrustParams{Trusted: tc.trusted})
			params := sessionapi.StartSessionParams{ConfigPath: cfg(tc.config), WorkspaceFolder: ws, Env: tc.env}
			err := c.wait(c.send("mirrord/startSession", params)).err
			if tc.refusedBy == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if sessions.started.Load() != 1 {
					t.Fatal("the session was not started")
				}
				return
			}
			if err == nil || !strings.Contains(err.Message, "not trusted") || !strings.Contains(string(*err.Data), tc.refusedBy) {
				t.Fatalf("error = %v, want a refusal mentioning %q", err, tc.refusedBy)
			}
			if n := sessions.started.Load(); n != 0 {
				t.Fatalf("the session manager was asked %d times", n)
			}
		})
	}
}
