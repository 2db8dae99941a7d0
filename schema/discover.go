package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DiscoverOptions are the inputs of config discovery.
type DiscoverOptions struct {
	// Explicit is a path chosen by the user: the CLI's -f or the editor's
	// active config. Relative paths resolve against WorkspaceFolder.
	Explicit string
	// WorkspaceFolder is the folder of the launch (the editor's workspace
	// folder, or the CLI's working directory).
	WorkspaceFolder string
	// LookupEnv reads MIRRORD_CONFIG_FILE (the launch's environment, not
	// necessarily the process's). nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Where a discovered config came from.
const (
	SourceActive  = "active"  // the explicit path (-f, or the editor's active config)
	SourceEnv     = "env"     // MIRRORD_CONFIG_FILE
	SourceDefault = "default" // the first .mirrord/*mirrord.{json,toml,yaml,yml}
	SourceNone    = "none"    // no config: defaults and environment only
)

// Discovery says which config a launch uses and why.
type Discovery struct {
	Path   string `json:"path,omitempty"`
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// defaultConfigExts are the extensions a default config may have.
var defaultConfigExts = [...]string{".json", ".toml", ".yaml", ".yml"}

// Discover picks the config a launch uses, in this order:
//
//  1. the explicit path (CLI -f, or the editor's active config);
//  2. MIRRORD_CONFIG_FILE, relative paths against the workspace folder;
//  3. the first file, in byte order of its name, matching
//     .mirrord/*mirrord.{json,toml,yaml,yml} in the workspace folder;
//  4. none: the launch runs on defaults and environment variables.
//
// Both the CLI and the language server call this one function so every
// client agrees. An explicit or environment path that does not exist is an
// error (the user asked for it); a missing .mirrord folder is not.
func Discover(opts DiscoverOptions) (Discovery, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if opts.Explicit != "" {
		p := resolveAgainst(opts.WorkspaceFolder, opts.Explicit)
		if err := mustBeFile(p); err != nil {
			return Discovery{}, fmt.Errorf("active config: %w", err)
		}
		return Discovery{Path: p, Source: SourceActive, Reason: "the active config was chosen explicitly"}, nil
	}
	if v, ok := lookup("MIRRORD_CONFIG_FILE"); ok && strings.TrimSpace(v) != "" {
		p := resolveAgainst(opts.WorkspaceFolder, strings.TrimSpace(v))
		if err := mustBeFile(p); err != nil {
			return Discovery{}, fmt.Errorf("MIRRORD_CONFIG_FILE: %w", err)
		}
		return Discovery{Path: p, Source: SourceEnv, Reason: "MIRRORD_CONFIG_FILE is set in the launch environment"}, nil
	}
	if opts.WorkspaceFolder != "" {
		p, err := firstDefaultConfig(opts.WorkspaceFolder)
		if err != nil {
			return Discovery{}, err
		}
		if p != "" {
			return Discovery{Path: p, Source: SourceDefault, Reason: "first .mirrord/*mirrord.{json,toml,yaml,yml} in the workspace folder"}, nil
		}
	}
	return Discovery{Source: SourceNone, Reason: "no active config, no MIRRORD_CONFIG_FILE and no .mirrord/*mirrord.{json,toml,yaml,yml} in the workspace folder"}, nil
}

func resolveAgainst(folder, p string) string {
	if filepath.IsAbs(p) || folder == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(folder, p)
}

func mustBeFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s does not exist", p)
		}
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a config file", p)
	}
	return nil
}

// firstDefaultConfig returns the byte-order first .mirrord/*mirrord.<ext>
// regular file of folder, or "" when there is none.
func firstDefaultConfig(folder string) (string, error) {
	dir := filepath.Join(folder, ".mirrord")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return "", nil
		}
		return "", fmt.Errorf("reading %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !isDefaultConfigName(name) {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, name)) // follows symlinks
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names)
	return filepath.Join(dir, names[0]), nil
}

// isDefaultConfigName reports whether name matches *mirrord.{json,toml,yaml,yml}.
func isDefaultConfigName(name string) bool {
	ext := filepath.Ext(name)
	for _, e := range defaultConfigExts {
		if ext == e {
			return strings.HasSuffix(strings.TrimSuffix(name, ext), "mirrord")
		}
	}
	return false
}
