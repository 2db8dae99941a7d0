package schema

import (
	"context"
	"strings"
	"testing"
)

// TestJiraHTTPWarning: a Jira site over plain http verifies with a warning
// on the url (the reporter will refuse it), except on a loopback address.
func TestJiraHTTPWarning(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool
	}{
		{"https://example.atlassian.net", false},
		{"http://attacker", true},
		{"http://127.0.0.1:8080", false},
		{"http://localhost", false},
	} {
		text := `{"jira": {"url": "` + tc.url + `", "issue_key_pattern": ".+"}}`
		// The user chose the site; the file names the same one.
		opts := quietOpts
		opts.Path = "m.json"
		opts.Env = func(k string) (string, bool) { return tc.url, k == "MIRRORD_JIRA_URL" }
		res := Verify(context.Background(), []byte(text), opts)
		if res.HasErrors() {
			t.Fatalf("%s: errors %+v", tc.url, res.Errors())
		}
		var got []Diagnostic
		for _, d := range res.Diagnostics {
			if d.Code == "V-JIRA-HTTP" {
				got = append(got, d)
			}
		}
		if (len(got) == 1) != tc.warn {
			t.Fatalf("%s: warnings %+v, want warn=%v", tc.url, got, tc.warn)
		}
		if tc.warn {
			d := got[0]
			if d.Severity != SeverityWarning || !strings.Contains(d.Message, "https") ||
				text[d.Range.Start.Offset:d.Range.End.Offset] != `"`+tc.url+`"` {
				t.Errorf("%s: %+v", tc.url, d)
			}
		}
	}
}

// TestJiraSite: the Jira site comes from the user (MIRRORD_JIRA_URL); a
// file's jira.url is used only when it narrows that site, and is otherwise
// warned about (V-JIRA-SITE) on the url and not used.
func TestJiraSite(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		site    string // MIRRORD_JIRA_URL ("": unset)
		wantURL string // the resolved site ("": none)
		enabled bool
		warn    bool
	}{
		{"file url alone", `{"jira": {"url": "https://attacker.example", "issue_key_pattern": ".+"}}`, "", "", false, true},
		{"file url elsewhere", `{"jira": {"url": "http://attacker", "issue_key_pattern": ".+"}}`, "https://jira.corp", "https://jira.corp", true, true},
		{"file url narrows", `{"jira": {"url": "https://jira.corp/jira"}}`, "https://jira.corp", "https://jira.corp/jira", true, false},
		{"section without a site", `{"jira": {"issue_key_pattern": ".+"}}`, "", "", false, true},
		{"section disabled", `{"jira": {"enabled": false, "url": "https://attacker.example"}}`, "", "", false, false},
		{"site from the user only", `{}`, "https://jira.corp", "https://jira.corp", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := quietOpts
			opts.Path = "m.json"
			opts.Env = func(k string) (string, bool) {
				if k == "MIRRORD_JIRA_URL" && tc.site != "" {
					return tc.site, true
				}
				return "", false
			}
			res := Verify(context.Background(), []byte(tc.text), opts)
			if res.HasErrors() || res.Config == nil {
				t.Fatalf("errors %+v", res.Errors())
			}
			j := res.Config.Jira
			got := ""
			if j.URL != nil {
				got = *j.URL
			}
			if got != tc.wantURL || j.Enabled != tc.enabled {
				t.Errorf("jira = %q enabled %v, want %q enabled %v", got, j.Enabled, tc.wantURL, tc.enabled)
			}
			var warned []Diagnostic
			for _, d := range res.Diagnostics {
				if d.Code == "V-JIRA-SITE" {
					warned = append(warned, d)
				}
			}
			if (len(warned) == 1) != tc.warn {
				t.Fatalf("V-JIRA-SITE warnings %+v, want warn=%v", warned, tc.warn)
			}
			if tc.warn && (warned[0].Severity != SeverityWarning || !strings.Contains(warned[0].Message, "MIRRORD_JIRA_URL")) {
				t.Errorf("warning %+v", warned[0])
			}
		})
	}
}
