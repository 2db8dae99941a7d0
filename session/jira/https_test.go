package jira

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
)

// TestSiteURL: only https sites get the credentials; plain http only on a
// loopback address (test servers).
func TestSiteURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		ok       bool
		insecure bool
	}{
		{"https://example.atlassian.net", true, false},
		{"https://example.atlassian.net/", true, false},
		{"https://jira.corp:8443/base", true, false},
		{"http://127.0.0.1:8080", true, false},
		{"http://127.3.2.1", true, false},
		{"http://[::1]:9000", true, false},
		{"http://localhost:9000", true, false},
		{"http://attacker", false, true},
		{"http://example.atlassian.net", false, true},
		{"http://10.0.0.1", false, true},
		{"http://127.0.0.1.attacker.example", false, true},
		{"HTTP://attacker", false, true},
		{"https://user:pw@example.atlassian.net", false, false},
		{"ftp://x", false, false},
		{"", false, false},
	} {
		_, err := jirasite.SiteURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("jirasite.SiteURL(%q): %v, want ok=%v", tc.url, err, tc.ok)
		}
		if errors.Is(err, jirasite.ErrInsecureURL) != tc.insecure {
			t.Errorf("jirasite.SiteURL(%q): %v, want insecure=%v", tc.url, err, tc.insecure)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	_, err := NewReporter(Settings{URL: "http://attacker"}, Credentials{Email: "a", APIToken: "b"}, nil)
	if !errors.Is(err, jirasite.ErrInsecureURL) || !strings.Contains(err.Error(), "https") {
		t.Errorf("NewReporter over http: %v", err)
	}
}

// TestNoRedirectWithCredentials: a site that redirects the worklog
// elsewhere gets a failure, and the target of the redirect never sees the
// credentials.
func TestNoRedirectWithCredentials(t *testing.T) {
	var leaked bool
	target := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		leaked = leaked || r.Header.Get("Authorization") != ""
	}))
	defer target.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer site.Close()
	r, err := NewReporter(Settings{URL: site.URL}, Credentials{Email: "a", APIToken: "b"}, site.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = r.Report(context.Background(), Worklog{IssueKey: "A-1", Started: time.Now().Add(-time.Hour), Duration: time.Hour})
	if err == nil {
		t.Error("a redirect was reported as success")
	}
	if leaked {
		t.Error("the redirect target got the credentials")
	}
}
