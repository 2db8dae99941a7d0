// Package envmerge computes the environment a process runs with under
// mirrord (reference/runtime.md §4.6): the target's environment filtered by
// include/exclude (and a built-in exclude list), then env_file entries, then
// mapping (variable-name regexes), then override; the result is laid over
// the local environment, and unset removes names (case-insensitively).
package envmerge

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/mirrord-ls/mirrord-ls/internal/envfilter"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
)

// BuiltinExclude lists variables never taken from the target: they describe
// the target's machine, not the service, and would break the local process.
var BuiltinExclude = []string{
	"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "SHLVL", "TERM", "HOSTNAME", "USER", "LOGNAME",
	"JAVA_HOME", "CLASSPATH", "GOPATH", "GOROOT", "PYTHONPATH", "PYTHONHOME", "RUST_LOG",
	"BUNDLE_*", "GEM_*", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "LD_PRELOAD", "LD_LIBRARY_PATH",
	"DYLD_*", "MIRRORD_*", "TMPDIR",
}

// Result is the environment change to apply to the local environment.
type Result struct {
	Set   map[string]string // laid over the local environment
	Unset []string          // names to remove (matched case-insensitively)
}

// Merge computes the change from the target's environment remote and the
// feature.env settings. readFile reads env_file (os.ReadFile when nil).
func Merge(remote map[string]string, cfg settings.Env, readFile func(string) ([]byte, error)) (Result, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	set := map[string]string{}
	if !cfg.Disabled {
		filtered, err := envfilter.Apply(remote, cfg.Include, cfg.Exclude)
		if err != nil {
			return Result{}, fmt.Errorf("feature.env include/exclude: %w", err)
		}
		for k, v := range filtered {
			if !builtinExcluded(k) {
				set[k] = v
			}
		}
	}
	if cfg.EnvFile != "" {
		data, err := readFile(cfg.EnvFile)
		if err != nil {
			return Result{}, fmt.Errorf("feature.env.env_file: %w", err)
		}
		vars, err := ParseDotenv(string(data))
		if err != nil {
			return Result{}, fmt.Errorf("feature.env.env_file %s: %w", cfg.EnvFile, err)
		}
		for k, v := range vars {
			set[k] = v
		}
	}
	if len(cfg.Mapping) > 0 {
		patterns := make([]string, 0, len(cfg.Mapping))
		for p := range cfg.Mapping {
			patterns = append(patterns, p)
		}
		sort.Strings(patterns) // deterministic when several patterns match
		for _, p := range patterns {
			re, err := regexp2.Compile(p, regexp2.None)
			if err != nil {
				return Result{}, fmt.Errorf("feature.env.mapping: pattern %q: %w", p, err)
			}
			re.MatchTimeout = time.Second
			for name := range set {
				if ok, err := re.MatchString(name); err == nil && ok {
					set[name] = cfg.Mapping[p]
				}
			}
		}
	}
	for k, v := range cfg.Override {
		set[k] = v
	}
	var unset []string
	for _, u := range cfg.Unset {
		unset = append(unset, u)
		for k := range set {
			if strings.EqualFold(k, u) {
				delete(set, k)
			}
		}
	}
	return Result{Set: set, Unset: unset}, nil
}

func builtinExcluded(name string) bool {
	for _, p := range BuiltinExclude {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
