package schema

import (
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
		res := verifyAs("m.json", text)
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
