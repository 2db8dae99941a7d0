package schema

import (
	"regexp"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
)

// Checks of the agent's pod settings (which mirrord leaves to the
// Kubernetes API) and of the mirrord-ls extensions: agent.address,
// agent.token and the jira section.

// quantityPattern is the grammar of a Kubernetes resource quantity.
var quantityPattern = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$`)

// agentPod checks agent.tolerations and agent.resources, whose values
// Kubernetes would otherwise reject only when the agent pod is created.
func (r *rules) agentPod() {
	fa := or(r.fc.Agent)
	if t := fa.Tolerations; t.Set() {
		for i, it := range t.Node.Items {
			r.toleration(it, PointerIndex(t.Ptr, i))
		}
	}
	if res := fa.Resources; res.Set() {
		r.resources(res.Node, res.Ptr)
	}
}

func (r *rules) toleration(n *Node, ptr string) {
	if n.Kind != KindObject {
		return // the schema reports it
	}
	var op, value string
	for _, m := range n.Members {
		at := nodeAt{m.Value, Pointer(ptr, m.Key)}
		v := m.Value
		switch m.Key {
		case "key", "operator", "value", "effect":
			if v.Kind == KindNull {
				continue
			}
			if v.Kind != KindString {
				r.errf("V-AGENT-TOLERATION", at, "`%s`: expected a string, found %s", fieldPath(at.ptr), describeNode(v))
				continue
			}
			switch m.Key {
			case "operator":
				op = v.Str
				if v.Str != "Exists" && v.Str != "Equal" && v.Str != "" {
					r.errf("V-AGENT-TOLERATION", at, "`%s`: unknown toleration operator `%s`, expected Exists or Equal", fieldPath(at.ptr), v.Str)
				}
			case "effect":
				switch v.Str {
				case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
				default:
					r.errf("V-AGENT-TOLERATION", at, "`%s`: unknown taint effect `%s`, expected NoSchedule, PreferNoSchedule or NoExecute", fieldPath(at.ptr), v.Str)
				}
			case "value":
				value = v.Str
			}
		case "tolerationSeconds":
			if _, ok := v.Int(); !ok && v.Kind != KindNull {
				r.errf("V-AGENT-TOLERATION", at, "`%s`: expected a whole number of seconds, found %s", fieldPath(at.ptr), describeNode(v))
			}
		}
	}
	if op == "Exists" && value != "" {
		r.errf("V-AGENT-TOLERATION", nodeAt{n, ptr}, "`%s`: a toleration with operator Exists must not have a value", fieldPath(ptr))
	}
}

func (r *rules) resources(n *Node, ptr string) {
	for _, m := range n.Members {
		if m.Key != "limits" && m.Key != "requests" {
			continue
		}
		mp := Pointer(ptr, m.Key)
		if m.Value.Kind == KindNull {
			continue
		}
		if m.Value.Kind != KindObject {
			r.errf("V-AGENT-RESOURCES", nodeAt{m.Value, mp}, "`%s`: expected a map from resource name to quantity, found %s", fieldPath(mp), describeNode(m.Value))
			continue
		}
		for _, q := range m.Value.Members {
			qp := Pointer(mp, q.Key)
			v := q.Value
			if (v.Kind != KindString && v.Kind != KindNumber) || !quantityPattern.MatchString(v.Str) {
				r.errf("V-AGENT-RESOURCES", nodeAt{v, qp}, "`%s`: %s is not a Kubernetes quantity; write e.g. \"100Mi\", \"1Gi\", \"250m\" or 1", fieldPath(qp), describeNode(v))
			}
		}
	}
}

// agentConnection checks agent.address and agent.token (mirrord-ls
// extensions).
func (r *rules) agentConnection() {
	fa := or(r.fc.Agent)
	if fa.Address.Set() {
		if _, err := ParseHostPort(fa.Address.Value); err != nil {
			r.errf("V-AGENT-ADDRESS", fa.Address, "`agent.address`: %s", err.Error())
		}
	}
	if fa.Token.Set() {
		r.warnf("W-SECRET-IN-FILE", fa.Token, "`agent.token` is a secret written in the config file; prefer the MIRRORD_AGENT_TOKEN environment variable, so that the token is not shared or committed with the config")
	}
	a := r.cfg.Agent
	if a.Address != nil && (a.Token == nil || *a.Token == "") {
		var at spanned = fa.Address
		if _, fromEnv := r.opts.env("MIRRORD_AGENT_ADDRESS"); fromEnv || !fa.Address.Set() {
			at = nil
		}
		r.errf("V-AGENT-TOKEN", at, "`agent.address` is set but no agent token is given: set MIRRORD_AGENT_TOKEN (or `agent.token`) to the session token of the agent at %s", *a.Address)
	}
}

// jira checks the jira section (a mirrord-ls extension).
func (r *rules) jira() {
	fj := r.fc.Jira
	if fj != nil {
		if fj.URL.Set() {
			if err := checkJiraURL(fj.URL.Value); err != nil {
				r.errf("V-JIRA-URL", fj.URL, "`jira.url`: `%s`: %s", fj.URL.Value, err.Error())
			}
		}
		if p := fj.IssueKeyPattern; p.Set() {
			if err := checkRE2(p.Value); err != nil {
				r.errf("V-REGEX", p, "`jira.issue_key_pattern`: invalid regular expression: %s", err.Error())
			}
		}
	}
	if j := r.cfg.Jira; j.Enabled && j.URL != nil && checkJiraURL(*j.URL) == nil && insecureJiraURL(*j.URL) {
		var at spanned
		if fj != nil && fj.URL.Set() {
			at = fj.URL
		}
		r.warnf("V-JIRA-HTTP", at, "`jira.url`: `%s` is plain http: the session's worklog would carry your Jira credentials unencrypted, so nothing will be reported to it; use https:// (http is used only for a loopback address)", *j.URL)
	}
	if j := r.cfg.Jira; j.Enabled && j.URL == nil {
		var at spanned
		if fj != nil {
			at = nodeAt{r.nodeAtPtr("/jira"), "/jira"}
		}
		r.errf("V-JIRA-URL", at, "`jira` is enabled but no Jira site is set: set MIRRORD_JIRA_URL in your environment to your Jira site, e.g. https://example.atlassian.net, or set `jira.enabled` to false")
	}
	r.jiraSite(fj)
}

// jiraSite warns when the file names a Jira site that is not used: the
// site receives the user's credentials, so it comes only from the user
// (MIRRORD_JIRA_URL); a config file may only narrow it.
func (r *rules) jiraSite(fj *FileJira) {
	if fj == nil || (fj.Enabled.Set() && !fj.Enabled.Value) {
		return
	}
	site, hasSite := r.opts.env(jirasite.EnvURL)
	var at spanned = nodeAt{r.nodeAtPtr("/jira"), "/jira"}
	switch {
	case fj.URL.Set() && !hasSite:
		r.warnf("V-JIRA-SITE", fj.URL, "`jira.url`: `%s` is not used and nothing is reported to Jira: the site that receives your Jira credentials comes only from you (MIRRORD_JIRA_URL); a config file may only narrow it", fj.URL.Value)
	case fj.URL.Set() && !jirasite.Within(site, fj.URL.Value):
		r.warnf("V-JIRA-SITE", fj.URL, "`jira.url`: `%s` is outside your Jira site %s (MIRRORD_JIRA_URL) and is not used; a config file may only narrow the site", fj.URL.Value, site)
	case !hasSite && !r.cfg.Jira.Enabled:
		r.warnf("V-JIRA-SITE", at, "`jira`: nothing is reported to Jira: set MIRRORD_JIRA_URL in your environment to your Jira site (a config file may not choose it)")
	}
}

// jiraCredentialKey reports whether a key under `jira` looks like a
// credential, which is never read from the file.
func jiraCredentialKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"token", "password", "passwd", "secret", "email", "user", "login", "auth", "credential", "api_key", "apikey"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// jiraCredentialsHint explains where the Jira credentials come from.
const jiraCredentialsHint = "Jira credentials are never read from the config file; they come only from the environment: MIRRORD_JIRA_EMAIL with MIRRORD_JIRA_API_TOKEN, or MIRRORD_JIRA_BEARER_TOKEN"
