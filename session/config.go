package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/session/branch"
	"github.com/mirrord-ls/mirrord-ls/session/jira"
)

// Resolved is a request's configuration after discovery, templating,
// environment overrides (the request's Env over the process's, so flags
// win over variables, which win over the file) and validation: what every
// command that talks to an agent starts from.
type Resolved struct {
	// Config is the resolved config.
	Config *schema.Config
	// Settings are the intproxy's and the layer's view of it.
	Settings settings.Settings
	// Path is the config file used; "" when there is none.
	Path string
	// Branch is the git branch (for templates, annotations and Jira).
	Branch branch.Info
	// Warnings of the config engine and the branch detection.
	Warnings []string

	jira   *jira.Settings
	lookup func(string) (string, bool)
}

// Target is the target path in effect: "targetless" without one.
func (r *Resolved) Target() string {
	if r.Config.Targetless || r.Settings.Target == "" {
		return "targetless"
	}
	return r.Settings.Target
}

// Lookup reads a variable as the configuration did: the request's Env
// over the process's environment.
func (r *Resolved) Lookup(name string) (string, bool) { return r.lookup(name) }

// ResolveConfig runs Start's configuration step on its own (for commands
// that need the config but no intproxy, like port-forward). Its progress is
// the task TaskConfig; errors are *Error.
func ResolveConfig(ctx context.Context, req Request) (*Resolved, error) {
	rep := reporter{req.Progress}
	rc, err := resolveConfig(ctx, &req, rep)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			err = fail("cannot resolve the mirrord config", "", err)
		}
		return nil, err
	}
	return rc, nil
}

// lookupFunc is the request's variable lookup with -t applied as
// MIRRORD_IMPERSONATED_TARGET.
func (r *Request) lookupFunc() func(string) (string, bool) {
	if r.Target == "" {
		return r.lookup
	}
	return func(name string) (string, bool) {
		if name == "MIRRORD_IMPERSONATED_TARGET" {
			return r.Target, true
		}
		return r.lookup(name)
	}
}

// resolveConfig discovers, renders and verifies the config, and detects the
// branch (which the git_branch template variable needs). Warnings are
// reported as they come and kept in Resolved.Warnings.
func resolveConfig(ctx context.Context, req *Request, rep reporter) (*Resolved, error) {
	t := rep.task(TaskConfig)
	defer t.fail()
	lookup := req.lookupFunc()
	rc := &Resolved{lookup: lookup}
	warn := func(msg string) {
		rc.Warnings = append(rc.Warnings, msg)
		rep.warning(msg)
	}
	d, err := schema.Discover(schema.DiscoverOptions{Explicit: req.ConfigPath, WorkspaceFolder: req.WorkspaceFolder, LookupEnv: lookup})
	if err != nil {
		return nil, fail("cannot find the mirrord config", "Check -f / the active config and MIRRORD_CONFIG_FILE.", err)
	}
	if d.Path != "" {
		// The intproxy runs elsewhere (in /) and reads it again.
		if abs, err := filepath.Abs(d.Path); err == nil {
			d.Path = abs
		}
	}
	text, name := []byte("{}"), "mirrord.json"
	if d.Path != "" {
		if text, err = os.ReadFile(d.Path); err != nil {
			return nil, fail("cannot read the mirrord config", "", err)
		}
		name = d.Path
	}
	folder := req.WorkspaceFolder
	if folder == "" {
		folder, _ = os.Getwd()
	}
	br, err := branch.Detect(ctx, folder, branch.Options{LookupEnv: lookup})
	if err != nil {
		br = branch.Info{Source: branch.SourceNone}
		warn("git branch detection failed: " + err.Error())
	}
	res := schema.Verify(ctx, text, schema.Options{
		Path: name, Env: lookup,
		GitBranch: func() (string, bool) { return br.Branch, br.Branch != "" },
	})
	var errs []string
	for _, diag := range res.Diagnostics {
		at := name
		if diag.Range != (schema.Range{}) {
			at = fmt.Sprintf("%s:%d:%d", name, diag.Range.Start.Line+1, diag.Range.Start.Column+1)
		}
		if diag.Severity == schema.SeverityError {
			errs = append(errs, at+": "+diag.Message)
		} else {
			warn(diag.Message)
		}
	}
	if len(errs) > 0 || res.Config == nil {
		return nil, fail("the mirrord config is invalid", "Run `mirrord verify-config "+name+"` or open it in an editor with mirrord-ls.",
			errors.New(strings.Join(errs, "\n")))
	}
	s, err := runtimeSettings(res.Config)
	if err != nil {
		return nil, fail("the mirrord config is not supported", "", err)
	}
	t.ok("config resolved")
	rc.Config, rc.Settings, rc.Path, rc.Branch, rc.jira = res.Config, s, d.Path, br, jiraSettings(res.Config)
	return rc, nil
}

// jiraSettings is the config's jira section (MIRRORD_JIRA_URL and
// MIRRORD_JIRA_ISSUE_KEY_PATTERN already applied); nil when disabled.
func jiraSettings(cfg *schema.Config) *jira.Settings {
	j := cfg.Jira
	if !j.Enabled || j.URL == nil || *j.URL == "" {
		return nil
	}
	return &jira.Settings{URL: *j.URL, IssueKeyPattern: j.IssueKeyPattern}
}
