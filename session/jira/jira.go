// Package jira reports mirrord sessions to Jira Cloud as worklogs: when a
// session ends, the time spent is logged on the issue whose key appears in
// the git branch name (e.g. branch "PROJ-123-login" logs on PROJ-123).
//
// It speaks the Jira Cloud REST API v3:
//
//	POST {site}/rest/api/3/issue/{key}/worklog
//	Authorization: Basic base64(email:api-token)   (or Bearer <token>)
//	{"started": "2026-11-21T10:00:00.000+0000", "timeSpentSeconds": 600,
//	 "comment": <Atlassian Document Format doc>}
//
// Credentials come only from the environment (MIRRORD_JIRA_EMAIL with
// MIRRORD_JIRA_API_TOKEN, or MIRRORD_JIRA_BEARER_TOKEN), never from the
// config file, so a committed config cannot leak them.
package jira

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
)

// DefaultIssueKeyPattern matches Jira issue keys such as PROJ-123.
const DefaultIssueKeyPattern = `[A-Z][A-Z0-9]+-[0-9]+`

// minWorklog is Jira's smallest accepted worklog: it rejects less than a minute.
const minWorklog = 60

// Settings is the `jira` section of the config.
type Settings struct {
	// URL of the Jira site, e.g. https://example.atlassian.net.
	URL string
	// IssueKeyPattern finds the issue key in the branch name; empty means
	// DefaultIssueKeyPattern.
	IssueKeyPattern string
}

// Credentials authenticate the reporter.
type Credentials struct {
	Email, APIToken string // basic auth (Jira Cloud API tokens)
	BearerToken     string // OAuth 2.0 / personal access token
}

// CredentialsFromEnv reads the credentials from lookup (nil: none found).
func CredentialsFromEnv(lookup func(string) (string, bool)) (Credentials, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	c := Credentials{Email: get(jirasite.EnvEmail), APIToken: get(jirasite.EnvAPIToken), BearerToken: get(jirasite.EnvBearerToken)}
	switch {
	case c.BearerToken != "":
		return Credentials{BearerToken: c.BearerToken}, nil
	case c.Email != "" && c.APIToken != "":
		return c, nil
	case c.Email != "" || c.APIToken != "":
		return Credentials{}, fmt.Errorf("jira: set both %s and %s (or %s)", jirasite.EnvEmail, jirasite.EnvAPIToken, jirasite.EnvBearerToken)
	default:
		return Credentials{}, fmt.Errorf("jira: no credentials: set %s and %s (or %s)", jirasite.EnvEmail, jirasite.EnvAPIToken, jirasite.EnvBearerToken)
	}
}

// Reporter posts worklogs.
type Reporter struct {
	site  *url.URL
	keyRe *regexp.Regexp
	creds Credentials
	http  *http.Client
}

// NewReporter checks the settings and builds a reporter. client nil means a
// client with a 10 s timeout.
func NewReporter(s Settings, creds Credentials, client *http.Client) (*Reporter, error) {
	u, err := jirasite.SiteURL(s.URL)
	if err != nil {
		return nil, err
	}
	pattern := s.IssueKeyPattern
	if pattern == "" {
		pattern = DefaultIssueKeyPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("jira: issue_key_pattern: %w", err)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// The worklog request carries the credentials: never follow a
	// redirect (to plain http, or to another host) with them. The 3xx
	// answer is reported as a failure.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Reporter{site: u, keyRe: re, creds: creds, http: &c}, nil
}

// IssueKey finds the first issue key in a branch name.
func (r *Reporter) IssueKey(branch string) (string, bool) {
	k := r.keyRe.FindString(branch)
	return k, k != ""
}

// Worklog is one finished session.
type Worklog struct {
	IssueKey string
	Started  time.Time
	Duration time.Duration
	Branch   string
	Target   string // e.g. "deployment/api" or "targetless"
	Session  string // session id
}

// Error is a non-2xx answer from Jira.
type Error struct {
	Status int
	Body   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("jira answered %d: %s", e.Status, e.Body)
}

// Report posts the worklog. It never retries: a failed report is logged by
// the caller and must never break or delay a session.
func (r *Reporter) Report(ctx context.Context, w Worklog) error {
	if w.IssueKey == "" {
		return errors.New("jira: no issue key")
	}
	secs := int64(w.Duration.Round(time.Second) / time.Second)
	if secs < minWorklog {
		secs = minWorklog
	}
	body, err := json.Marshal(worklogBody{
		Started:          w.Started.UTC().Format("2006-01-02T15:04:05.000-0700"),
		TimeSpentSeconds: secs,
		Comment:          adfParagraph(comment(w)),
	})
	if err != nil {
		return fmt.Errorf("jira: encoding worklog: %w", err)
	}
	endpoint := r.site.JoinPath("rest", "api", "3", "issue", w.IssueKey, "worklog")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("jira: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if r.creds.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+r.creds.BearerToken)
	} else {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.creds.Email+":"+r.creds.APIToken)))
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("jira: posting worklog to %s: %w", w.IssueKey, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return &Error{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

func comment(w Worklog) string {
	var b strings.Builder
	b.WriteString("mirrord session")
	if w.Session != "" {
		b.WriteString(" " + w.Session)
	}
	fmt.Fprintf(&b, " on branch %s", w.Branch)
	if w.Target != "" {
		fmt.Fprintf(&b, ", target %s", w.Target)
	}
	fmt.Fprintf(&b, " (%s)", w.Duration.Round(time.Second))
	return b.String()
}

type worklogBody struct {
	Started          string `json:"started"`
	TimeSpentSeconds int64  `json:"timeSpentSeconds"`
	Comment          adfDoc `json:"comment"`
}

// adfDoc is a minimal Atlassian Document Format document.
type adfDoc struct {
	Type    string    `json:"type"`
	Version int       `json:"version"`
	Content []adfNode `json:"content"`
}

type adfNode struct {
	Type    string    `json:"type"`
	Text    string    `json:"text,omitempty"`
	Content []adfNode `json:"content,omitempty"`
}

func adfParagraph(text string) adfDoc {
	return adfDoc{Type: "doc", Version: 1, Content: []adfNode{{Type: "paragraph", Content: []adfNode{{Type: "text", Text: text}}}}}
}
