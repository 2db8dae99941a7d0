package jirasite

import (
	"errors"
	"testing"
)

func TestWithin(t *testing.T) {
	tests := []struct {
		site, u string
		want    bool
	}{
		{"https://example.atlassian.net", "https://example.atlassian.net", true},
		{"https://example.atlassian.net/", "https://EXAMPLE.atlassian.net", true},
		{"https://jira.corp", "https://jira.corp/jira", true},
		{"https://jira.corp/jira", "https://jira.corp/jira/", true},
		{"https://jira.corp/jira", "https://jira.corp/jira/team", true},
		{"https://jira.corp/jira", "https://jira.corp/jiraX", false},
		{"https://jira.corp/jira", "https://jira.corp/", false},
		{"https://jira.corp", "http://jira.corp", false},
		{"https://jira.corp", "https://jira.corp:8443", false},
		{"https://jira.corp", "https://attacker.example", false},
		{"https://jira.corp", "https://jira.corp.attacker.example", false},
		{"https://jira.corp", "https://user@jira.corp", false},
		{"", "https://jira.corp", false},
		{"https://jira.corp", "jira.corp", false},
	}
	for _, tc := range tests {
		if got := Within(tc.site, tc.u); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.site, tc.u, got, tc.want)
		}
	}
}

func TestCheckSite(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		u    string
		ok   bool
	}{
		{"no site of the user's", nil, "https://jira.corp", false},
		{"the user's site", map[string]string{EnvURL: "https://jira.corp"}, "https://jira.corp", true},
		{"narrowed", map[string]string{EnvURL: "https://jira.corp"}, "https://jira.corp/jira", true},
		{"elsewhere", map[string]string{EnvURL: "https://jira.corp"}, "http://attacker", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSite(tc.u, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSiteNotChosen)) {
				t.Errorf("CheckSite(%q) = %v, want ok=%v", tc.u, err, tc.ok)
			}
		})
	}
}
