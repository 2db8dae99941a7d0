package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
)

// jiraStub is a local stand-in for Jira Cloud that checks the exact request
// contract (method, path, headers, JSON body) and records what it got.
type jiraStub struct {
	t        *testing.T
	status   int
	requests chan *http.Request
	bodies   chan map[string]any
}

func newJiraStub(t *testing.T, status int) (*jiraStub, *httptest.Server) {
	s := &jiraStub{t: t, status: status, requests: make(chan *http.Request, 4), bodies: make(chan map[string]any, 4)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *jiraStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	s.requests <- r
	s.bodies <- m
	w.WriteHeader(s.status)
	_, _ = io.WriteString(w, `{"id":"100"}`)
}

func TestReportContract(t *testing.T) {
	stub, srv := newJiraStub(t, http.StatusCreated)
	r, err := NewReporter(Settings{URL: srv.URL + "/"}, Credentials{Email: "dev@example.com", APIToken: "tok"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	key, ok := r.IssueKey("feature/PROJ-42-login-page")
	if !ok || key != "PROJ-42" {
		t.Fatalf("IssueKey = %q, %v", key, ok)
	}
	started := time.Date(2026, 11, 21, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	err = r.Report(context.Background(), Worklog{IssueKey: key, Started: started, Duration: 12*time.Minute + 30*time.Second + 400*time.Millisecond, Branch: "feature/PROJ-42-login-page", Target: "deployment/api", Session: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	req := <-stub.requests
	body := <-stub.bodies
	if req.Method != http.MethodPost || req.URL.Path != "/rest/api/3/issue/PROJ-42/worklog" {
		t.Errorf("request %s %s", req.Method, req.URL.Path)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("dev@example.com:tok"))
	if got := req.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization = %q, want %q", got, wantAuth)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := body["started"]; got != "2026-11-21T08:30:00.000+0000" {
		t.Errorf("started = %v", got)
	}
	if got := body["timeSpentSeconds"]; got != json.Number("750") {
		t.Errorf("timeSpentSeconds = %v", got)
	}
	doc, _ := json.Marshal(body["comment"])
	wantDoc := `{"content":[{"content":[{"text":"mirrord session s1 on branch feature/PROJ-42-login-page, target deployment/api (12m30s)","type":"text"}],"type":"paragraph"}],"type":"doc","version":1}`
	if string(doc) != wantDoc {
		t.Errorf("comment = %s\nwant      %s", doc, wantDoc)
	}
	if len(body) != 3 {
		t.Errorf("unexpected fields in body: %v", body)
	}
}

func TestReportShortSessionAndBearer(t *testing.T) {
	stub, srv := newJiraStub(t, http.StatusCreated)
	r, err := NewReporter(Settings{URL: srv.URL, IssueKeyPattern: `OPS-[0-9]+`}, Credentials{BearerToken: "pat"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.IssueKey("PROJ-1-x"); ok {
		t.Fatal("custom pattern must not match PROJ-1")
	}
	if err := r.Report(context.Background(), Worklog{IssueKey: "OPS-9", Started: time.Now(), Duration: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	req, body := <-stub.requests, <-stub.bodies
	if got := req.Header.Get("Authorization"); got != "Bearer pat" {
		t.Errorf("Authorization = %q", got)
	}
	if got := body["timeSpentSeconds"]; got != json.Number("60") {
		t.Errorf("a short session must log Jira's minimum of 60 s, got %v", got)
	}
}

func TestReportErrors(t *testing.T) {
	_, srv := newJiraStub(t, http.StatusUnauthorized)
	r, err := NewReporter(Settings{URL: srv.URL}, Credentials{Email: "a", APIToken: "b"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = r.Report(context.Background(), Worklog{IssueKey: "A1-1", Started: time.Now(), Duration: time.Hour})
	var je *Error
	if !errors.As(err, &je) || je.Status != 401 {
		t.Fatalf("err = %v, want a 401 *Error", err)
	}
	if err := r.Report(context.Background(), Worklog{}); err == nil {
		t.Fatal("missing issue key must be an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Report(ctx, Worklog{IssueKey: "A1-1", Started: time.Now()}); err == nil {
		t.Fatal("cancelled context must fail")
	}
}

func TestSettingsAndCredentials(t *testing.T) {
	for _, u := range []string{"", "example.atlassian.net", "ftp://x", "https://"} {
		if _, err := NewReporter(Settings{URL: u}, Credentials{}, nil); err == nil {
			t.Errorf("url %q accepted", u)
		}
	}
	if _, err := NewReporter(Settings{URL: "https://x.atlassian.net", IssueKeyPattern: "("}, Credentials{}, nil); err == nil {
		t.Error("bad pattern accepted")
	}
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if _, err := CredentialsFromEnv(env(nil)); err == nil {
		t.Error("no credentials accepted")
	}
	if _, err := CredentialsFromEnv(env(map[string]string{jirasite.EnvEmail: "a"})); err == nil || !strings.Contains(err.Error(), jirasite.EnvAPIToken) {
		t.Errorf("half credentials: %v", err)
	}
	c, err := CredentialsFromEnv(env(map[string]string{jirasite.EnvEmail: "a", jirasite.EnvAPIToken: "b", jirasite.EnvBearerToken: "c"}))
	if err != nil || c != (Credentials{BearerToken: "c"}) {
		t.Errorf("bearer must win: %+v %v", c, err)
	}
}
