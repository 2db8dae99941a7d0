package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

// httpServer starts python's http.server on 8080 under mirrord, serving a
// directory with stolen.txt.
func httpServer(t *testing.T, s *session, cfg map[string]any) *background {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stolen.txt"), []byte("from the local python"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s.start(cfg, dir, "python3", "-u", "-m", "http.server", "8080", "--bind", "0.0.0.0")
}

func peerCurl(t *testing.T, s *session, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := s.pod.Curl(ctx, url)
	if err != nil {
		t.Fatalf("curl %s from the peer: %v: %s\nagent log:\n%s", url, err, out, s.agent.Log())
	}
	return out
}

func TestStealDeliversToLocalServer(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": "steal"}}}
	bg := httpServer(t, s, cfg)
	s.waitSubscribed(8080, bg)
	got := peerCurl(t, s, "http://"+agenttest.PodIP.String()+":8080/stolen.txt")
	if got != "from the local python" {
		t.Fatalf("peer got %q", got)
	}
	waitFor(t, 10*time.Second, "the request in python's log", func() bool {
		return strings.Contains(bg.stderr.String(), "GET /stolen.txt")
	})
	// the session registry lists the process and the subscription
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	infos, err := registry.List(ctx, s.sessions)
	if err != nil || len(infos) != 1 {
		t.Fatalf("sessions: %v, %v", infos, err)
	}
	found := false
	for _, p := range infos[0].Processes {
		found = found || strings.HasPrefix(p.Name, "python")
	}
	if !found || infos[0].PortSubscriptions[0].Mode != "steal" {
		t.Fatalf("session info: %+v", infos[0])
	}
}

func TestMirrorCopiesWhileTargetAnswers(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": map[string]any{
		"mode":         "mirror",
		"port_mapping": [][]int{{8080, agenttest.AppHTTPPort}},
	}}}}
	bg := httpServer(t, s, cfg)
	s.waitSubscribed(agenttest.AppHTTPPort, bg)
	got := peerCurl(t, s, "http://"+agenttest.PodIP.String()+"/mirrored")
	if got != "app: GET /mirrored" {
		t.Fatalf("peer got %q, want the target app's answer", got)
	}
	waitFor(t, 10*time.Second, "the mirrored request in python's log", func() bool {
		return strings.Contains(bg.stderr.String(), "GET /mirrored")
	})
}

func TestFilteredStealTakesOnlyMatchingRequests(t *testing.T) {
	s := newSession(t, agenttest.PodOptions{})
	cfg := map[string]any{"feature": map[string]any{"network": map[string]any{"incoming": map[string]any{
		"mode":         "steal",
		"port_mapping": [][]int{{8080, agenttest.AppHTTPPort}},
		"http_filter":  map[string]any{"header_filter": "^x-dev: me$"},
	}}}}
	bg := httpServer(t, s, cfg)
	s.waitSubscribed(agenttest.AppHTTPPort, bg)
	base := "http://" + agenttest.PodIP.String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := s.pod.Curl(ctx, "-H", "x-dev: me", base+"/stolen.txt")
	if err != nil || got != "from the local python" {
		t.Fatalf("matching request: %q, %v\nagent log:\n%s", got, err, s.agent.Log())
	}
	if got := peerCurl(t, s, base+"/other"); got != "app: GET /other" {
		t.Fatalf("unmatched request: %q, want the target app's answer", got)
	}
}
