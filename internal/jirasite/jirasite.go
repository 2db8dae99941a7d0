// Package jirasite holds the rules for the Jira site a session may report
// to: the site comes only from the user's environment (EnvURL), a config
// file may only narrow it (Within), and credentials travel only over https
// (SiteURL). The config engine (schema) checks a config with these rules;
// the reporter (session/jira) enforces them before it sends anything.
package jirasite

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Environment variables holding the credentials.
const (
	EnvEmail       = "MIRRORD_JIRA_EMAIL"
	EnvAPIToken    = "MIRRORD_JIRA_API_TOKEN"
	EnvBearerToken = "MIRRORD_JIRA_BEARER_TOKEN"
)

// ErrInsecureURL: a Jira site over plain http. The worklog carries the
// user's Jira credentials, so it is sent only over https (plain http only
// to a loopback address: a local test server).
var ErrInsecureURL = errors.New("jira: refusing a plain http site: the worklog would send your Jira credentials unencrypted; use https://")

// SiteURL checks the Jira site URL: absolute, https (http only to a
// loopback address such as 127.0.0.1, ::1 or localhost), no user info.
func SiteURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("jira: url %q must be an absolute https URL such as https://example.atlassian.net", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("jira: url %q must not contain credentials; they come from %s and %s, or %s", u.Redacted(), EnvEmail, EnvAPIToken, EnvBearerToken)
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%w (url %q)", ErrInsecureURL, raw)
	}
	return u, nil
}

// EnvURL is the environment variable naming the user's Jira site. The site
// comes only from the user: a config file (possibly committed to a
// repository) may only narrow it (Within).
const EnvURL = "MIRRORD_JIRA_URL"

// ErrSiteNotChosen: the Jira site of a session is not one the user chose.
var ErrSiteNotChosen = errors.New("jira: the site is not the one you chose")

// Within reports whether the URL u stays inside the user's site: the same
// scheme, host and port, and a path at or below the site's path. Both must
// parse as absolute URLs with a host.
func Within(site, u string) bool {
	s, err := url.Parse(strings.TrimSpace(site))
	if err != nil || s.Host == "" {
		return false
	}
	v, err := url.Parse(strings.TrimSpace(u))
	if err != nil || v.Host == "" || v.User != nil {
		return false
	}
	if !strings.EqualFold(s.Scheme, v.Scheme) || !strings.EqualFold(s.Hostname(), v.Hostname()) || s.Port() != v.Port() {
		return false
	}
	base := strings.TrimSuffix(s.EscapedPath(), "/")
	p := strings.TrimSuffix(v.EscapedPath(), "/")
	return p == base || strings.HasPrefix(p, base+"/")
}

// CheckSite refuses a site that is not within the user's (EnvURL in
// lookup): with no site of the user's, no site is accepted.
func CheckSite(u string, lookup func(string) (string, bool)) error {
	site, _ := lookup(EnvURL)
	if strings.TrimSpace(site) == "" {
		return fmt.Errorf("%w: %s is not set, and a config file may not choose the Jira site (%s) that receives your credentials", ErrSiteNotChosen, EnvURL, u)
	}
	if !Within(site, u) {
		return fmt.Errorf("%w: %s is outside your site %s (%s); a config file may only narrow it", ErrSiteNotChosen, u, site, EnvURL)
	}
	return nil
}

// IsLoopbackHost reports whether host is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
