// Package fspolicy decides where a file operation happens (reference/
// runtime.md §4.3): the user's not_found, read_write, read_only and local
// patterns (regexp2, case-insensitive, first match in that order), then the
// default lists (not-found, remote read-only, local), then the mode.
//
// The default lists are simple rules (prefix, suffix, substring, exact
// path) so the C layer can apply them itself without asking: Rules returns
// them in the order they must be tried.
package fspolicy

import (
	"fmt"
	"strings"

	"github.com/dlclark/regexp2"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// Decision is where a file operation goes.
type Decision int

// Decisions.
const (
	Local       Decision = iota // the real libc call
	NotFound                    // ENOENT
	RemoteRead                  // the target's file, read only
	RemoteWrite                 // the target's file, read and write
)

func (d Decision) String() string {
	return [...]string{"local", "not_found", "remote_read", "remote_write"}[d]
}

// Rule is one simple path rule.
type Rule struct {
	Kind uint8 // wire.Rule*
	Act  uint8 // wire.ActLocal or wire.ActAsk
	S    string
}

// Match reports whether the rule matches path (case-insensitively).
func (r Rule) Match(path string) bool {
	p, s := strings.ToLower(path), strings.ToLower(r.S)
	switch r.Kind {
	case wire.RulePrefix:
		return strings.HasPrefix(p, s)
	case wire.RuleSuffix:
		return strings.HasSuffix(p, s)
	case wire.RuleContains:
		return strings.Contains(p, s)
	case wire.RuleExact:
		return p == s
	}
	return false
}

// Process holds the locations of one process that are local by default.
type Process struct {
	Cwd, Exe, Home, Tmp string
}

// remoteReadOnly are read from the target even though /etc is local.
var remoteReadOnly = []Rule{
	{wire.RulePrefix, wire.ActAsk, "/etc/resolv.conf"},
	{wire.RuleExact, wire.ActAsk, "/etc/hosts"},
	{wire.RuleExact, wire.ActAsk, "/etc/hostname"},
	{wire.RulePrefix, wire.ActAsk, "/etc/ssl/certs"},
}

var localRules = func() []Rule {
	var rs []Rule
	for _, ext := range []string{".so", ".sh", ".rb", ".d", ".pyc", ".py", ".jar", ".class", ".js", ".pth", ".plist", ".pdb", ".dll"} {
		rs = append(rs, Rule{wire.RuleSuffix, wire.ActLocal, ext})
	}
	rs = append(rs, Rule{wire.RuleContains, wire.ActLocal, ".so."}) // versioned libraries
	for _, dir := range []string{"proc", "sys", "lib", "etc", "usr", "home", "bin", "sbin", "dev", "opt", "tmp", "snap", "run", "selinux", "nix"} {
		rs = append(rs, Rule{wire.RulePrefix, wire.ActLocal, "/" + dir})
	}
	rs = append(rs,
		Rule{wire.RulePrefix, wire.ActLocal, "/var/tmp"},
		Rule{wire.RulePrefix, wire.ActLocal, "/var/db/timezone/zoneinfo"},
	)
	for _, s := range []string{"/node_modules", "/package.json", ".yarnrc", ".tool-versions", ".asdf/", "jvm.cfg"} {
		rs = append(rs, Rule{wire.RuleContains, wire.ActLocal, s})
	}
	return rs
}()

// notFoundRules are the default not-found locations under $HOME.
func notFoundRules(home string) []Rule {
	if home == "" || home == "/" {
		return nil
	}
	var rs []Rule
	for _, d := range []string{"/.config/gcloud", "/.kube", "/.azure"} {
		rs = append(rs, Rule{wire.RulePrefix, wire.ActAsk, home + d})
	}
	return rs
}

// processRules are the per-process local locations (the layer adds the same
// ones itself).
func processRules(p Process) []Rule {
	var rs []Rule
	if p.Cwd != "" && p.Cwd != "/" {
		rs = append(rs, Rule{wire.RuleExact, wire.ActLocal, p.Cwd}, Rule{wire.RulePrefix, wire.ActLocal, strings.TrimSuffix(p.Cwd, "/") + "/"})
	}
	if p.Exe != "" {
		rs = append(rs, Rule{wire.RuleExact, wire.ActLocal, p.Exe})
	}
	rs = append(rs, Rule{wire.RuleExact, wire.ActLocal, "/"})
	if p.Tmp != "" && p.Tmp != "/" {
		rs = append(rs, Rule{wire.RulePrefix, wire.ActLocal, p.Tmp})
	}
	if p.Home != "" && p.Home != "/" {
		rs = append(rs, Rule{wire.RulePrefix, wire.ActLocal, strings.TrimSuffix(p.Home, "/") + "/."})
	}
	return rs
}

// Policy decides file operations for a session.
type Policy struct {
	mode                                 string
	notFound, readWrite, readOnly, local []*regexp2.Regexp
}

// New compiles the patterns of fs.
func New(fs settings.FS) (*Policy, error) {
	p := &Policy{mode: fs.Mode}
	var err error
	for _, set := range []struct {
		name string
		src  []string
		dst  *[]*regexp2.Regexp
	}{
		{"not_found", fs.NotFound, &p.notFound},
		{"read_write", fs.ReadWrite, &p.readWrite},
		{"read_only", fs.ReadOnly, &p.readOnly},
		{"local", fs.Local, &p.local},
	} {
		for _, src := range set.src {
			re, cerr := regexp2.Compile(src, regexp2.IgnoreCase)
			if cerr != nil {
				return nil, fmt.Errorf("feature.fs.%s: pattern %q: %w", set.name, src, cerr)
			}
			*set.dst = append(*set.dst, re)
		}
	}
	return p, err
}

// Active reports whether file operations are intercepted at all.
func (p *Policy) Active() bool {
	return p.mode != settings.FSLocal
}

// Fast reports whether the layer may apply Rules by itself: true when no
// user pattern could take precedence over them.
func (p *Policy) Fast() bool {
	return len(p.notFound)+len(p.readWrite)+len(p.readOnly)+len(p.local) == 0
}

// Rules are the default rules for the layer, in order (not including the
// per-process ones the layer adds itself).
func (p *Policy) Rules(home string) []Rule {
	rs := append([]Rule{}, notFoundRules(home)...)
	rs = append(rs, remoteReadOnly...)
	return append(rs, localRules...)
}

func matchAny(res []*regexp2.Regexp, path string) bool {
	for _, re := range res {
		if ok, err := re.MatchString(path); err == nil && ok {
			return true
		}
	}
	return false
}

// Decide says where an operation on the absolute path goes; write is true
// for opens that may modify the file.
func (p *Policy) Decide(path string, write bool, proc Process) Decision {
	if !p.Active() || !strings.HasPrefix(path, "/") {
		return Local
	}
	readOnly := func() Decision {
		if write {
			return Local
		}
		return RemoteRead
	}
	switch {
	case matchAny(p.notFound, path):
		return NotFound
	case matchAny(p.readWrite, path):
		return RemoteWrite
	case matchAny(p.readOnly, path):
		return readOnly()
	case matchAny(p.local, path):
		return Local
	}
	for _, r := range notFoundRules(proc.Home) {
		if r.Match(path) {
			return NotFound
		}
	}
	for _, r := range remoteReadOnly {
		if r.Match(path) {
			return readOnly()
		}
	}
	for _, r := range localRules {
		if r.Match(path) {
			return Local
		}
	}
	for _, r := range processRules(proc) {
		if r.Match(path) {
			return Local
		}
	}
	switch p.mode {
	case settings.FSRead:
		return readOnly()
	case settings.FSWrite:
		return RemoteWrite
	}
	return Local // localwithoverrides: only the patterns above go remote
}
