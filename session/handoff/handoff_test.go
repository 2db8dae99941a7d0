package handoff

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session/jira"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// jiraServer checks the exact worklog request Jira Cloud expects.
func jiraServer(t *testing.T, status int, got chan<- map[string]any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/rest/api/3/issue/PROJ-7/worklog" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("dev@example.com:api-token"))
		if r.Header.Get("Authorization") != want || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		got <- body
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReportJira(t *testing.T) {
	creds := map[string]string{jirasite.EnvEmail: "dev@example.com", jirasite.EnvAPIToken: "api-token"}
	started := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	ended := started.Add(25 * time.Minute)
	got := make(chan map[string]any, 1)
	srv := jiraServer(t, http.StatusCreated, got)
	h := &Handoff{SessionID: "s-1", Target: "deployment/api", Branch: "feature/PROJ-7-login", StartedAt: started,
		Jira: &jira.Settings{URL: srv.URL}}
	// withSite is creds with the user's Jira site.
	withSite := func(site string) map[string]string {
		m := map[string]string{jirasite.EnvURL: site}
		for k, v := range creds {
			m[k] = v
		}
		return m
	}

	if err := h.ReportJira(context.Background(), ended, env(withSite(srv.URL)), nil); err != nil {
		t.Fatal(err)
	}
	body := <-got
	if body["timeSpentSeconds"] != float64(1500) || body["started"] != "2026-11-21T09:00:00.000+0000" {
		t.Errorf("worklog %v", body)
	}
	comment, _ := json.Marshal(body["comment"])
	for _, want := range []string{"feature/PROJ-7-login", "deployment/api", "s-1"} {
		if !strings.Contains(string(comment), want) {
			t.Errorf("comment %s lacks %q", comment, want)
		}
	}

	for name, tc := range map[string]struct {
		h    *Handoff
		env  map[string]string
		want string
	}{
		"nil handoff":    {nil, creds, "not configured"},
		"no jira":        {&Handoff{Branch: "PROJ-7"}, creds, "not configured"},
		"no credentials": {h, map[string]string{jirasite.EnvURL: srv.URL}, "no credentials"},
		"no issue key":   {&Handoff{Branch: "main", Jira: h.Jira}, withSite(srv.URL), `branch "main" names no issue`},
	} {
		err := tc.h.ReportJira(context.Background(), ended, env(tc.env), nil)
		if !errors.Is(err, ErrNoJira) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A failing Jira is an error of its own (logged by Finish, never fatal).
	failing := jiraServer(t, http.StatusForbidden, got)
	h2 := *h
	h2.Jira = &jira.Settings{URL: failing.URL}
	err := h2.ReportJira(context.Background(), ended, env(withSite(failing.URL)), nil)
	var je *jira.Error
	if !errors.As(err, &je) || je.Status != http.StatusForbidden || errors.Is(err, ErrNoJira) {
		t.Errorf("forbidden: %v", err)
	}
	<-got
	// Finish swallows it.
	h2.Finish(context.Background(), ended, nil, env(withSite(failing.URL)))
	<-got
}

// TestReportJiraSiteNotChosen: a session whose Jira site (from a config
// file) is not within the user's own (MIRRORD_JIRA_URL) sends nothing,
// with the credentials in the environment.
func TestReportJiraSiteNotChosen(t *testing.T) {
	creds := map[string]string{jirasite.EnvEmail: "dev@example.com", jirasite.EnvAPIToken: "api-token"}
	arrived := make(chan string, 10)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Method + " " + r.URL.Path
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(attacker.Close)
	started := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	h := &Handoff{SessionID: "s-1", Branch: "feature/PROJ-7-login", StartedAt: started, Jira: &jira.Settings{URL: attacker.URL, IssueKeyPattern: ".+"}}
	tests := []struct {
		name string
		site string // MIRRORD_JIRA_URL ("": unset)
	}{
		{"no site of the user's", ""},
		{"another host", "https://jira.example.com"},
		{"same host, another port", "http://127.0.0.1:1"},
		{"a path the config leaves", attacker.URL + "/jira"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range creds {
				e[k] = v
			}
			if tc.site != "" {
				e[jirasite.EnvURL] = tc.site
			}
			err := h.ReportJira(context.Background(), started.Add(time.Hour), env(e), nil)
			if !errors.Is(err, ErrNoJira) || !errors.Is(err, jirasite.ErrSiteNotChosen) {
				t.Errorf("ReportJira = %v, want a refusal of the site", err)
			}
		})
	}
	select {
	case req := <-arrived:
		t.Errorf("a request reached the config's site: %s", req)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestEncodeDescribe(t *testing.T) {
	h := &Handoff{SessionID: "s-2", Target: "pod/a", Namespace: "staging", KubeContext: "dev", Branch: "b",
		StartedAt: time.Unix(100, 0).UTC(), Kube: &KubeAgent{Context: "dev", Agent: agentpod.Agent{Namespace: "staging", Job: "mirrord-agent-s2", Pod: "mirrord-agent-s2-x", Port: 40000}}}
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromEnv(env(map[string]string{EnvVar: enc}))
	if err != nil || back.Kube == nil || back.Kube.Agent.Pod != "mirrord-agent-s2-x" || back.Kube.Agent.Port != 40000 || !back.StartedAt.Equal(h.StartedAt) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if none, err := FromEnv(env(nil)); none != nil || err != nil {
		t.Errorf("unset: %v %v", none, err)
	}
	if _, err := FromEnv(env(map[string]string{EnvVar: "{"})); err == nil {
		t.Error("bad JSON accepted")
	}
	var info registry.Info
	back.Describe(&info)
	if info.Target != "pod/a" || info.Namespace != "staging" || info.Context != "dev" || info.Branch != "b" || info.Agent != "job/mirrord-agent-s2 (staging)" {
		t.Errorf("info %+v", info)
	}
	var nilH *Handoff
	nilH.Describe(&info) // no panic, no change
	nilH.Finish(context.Background(), time.Now(), nil, nil)
}

func TestDialRetriesUntilDeadline(t *testing.T) {
	attempts := 0
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := DialKube(ctx, func(context.Context) (io.ReadWriteCloser, error) {
		attempts++
		return nil, errors.New("pod not reachable")
	}, protocol.Options{})
	if err == nil || !strings.Contains(err.Error(), "pod not reachable") || attempts < 3 {
		t.Fatalf("err %v after %d attempts", err, attempts)
	}
	var h *Handoff
	if _, err := h.Dial(context.Background(), "", "tok", protocol.ClientInfo{}); err == nil {
		t.Error("dial with nothing to dial succeeded")
	}
}

// A peer of another protocol is not retried: the error comes at once and
// says what it is.
func TestDialStopsOnAnotherProtocol(t *testing.T) {
	attempts := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err := DialKube(ctx, func(context.Context) (io.ReadWriteCloser, error) {
		attempts++
		a, b := net.Pipe()
		go func() {
			var h protocol.Hello
			_, _ = protocol.ReadMessage(b, &h, 1)
			_, _ = b.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			b.Close()
		}()
		return a, nil
	}, protocol.Options{})
	if !errors.Is(err, protocol.ErrNotAgent) || attempts != 1 || time.Since(t0) > 5*time.Second {
		t.Fatalf("err %v after %d attempts in %v", err, attempts, time.Since(t0))
	}
}

// Finish removes a cluster agent (Job and Secret).
func TestFinishDeletesClusterAgent(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	a, err := agentpod.Create(ctx, c.Client, agentpod.Params{SessionID: "finish-1", Namespace: ns, Image: "x", TTL: 1, Port: 40001,
		NodeSelector: map[string]string{"nowhere": "x"}}, "tok")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handoff{SessionID: "finish-1", Kube: &KubeAgent{Kubeconfig: c.Kubeconfig, Agent: *a}}
	h.Finish(ctx, time.Now(), nil, env(nil))
	if _, err := c.Client.CoreV1().Secrets(ns).Get(ctx, a.Secret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret: %v", err)
	}
	kubetest.Eventually(t, 30*time.Second, "job deleted", func(ctx context.Context) (bool, error) {
		j, err := c.Client.BatchV1().Jobs(ns).Get(ctx, a.Job, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && j.DeletionTimestamp != nil), nil
	})
}

func FuzzFromEnv(f *testing.F) {
	h := &Handoff{SessionID: "s", Kube: &KubeAgent{Agent: agentpod.Agent{Pod: "p"}}, Jira: &jira.Settings{URL: "https://x"}}
	enc, _ := h.Encode()
	f.Add(enc)
	f.Add(`{"session_id":1}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := FromEnv(env(map[string]string{EnvVar: s}))
		if err == nil && h != nil {
			var info registry.Info
			h.Describe(&info)
			if _, err := h.Encode(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
