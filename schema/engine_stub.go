package schema

// TEMPORARY STUBS — the schema helper replaces this file with the real
// implementation (delete this file once the real functions exist).

import (
	"context"
	"errors"
)

// Options control one verification.
type Options struct {
	// Path of the config file; its extension picks the format.
	Path string
	// Env looks up environment variables: CLI overrides first, then the
	// process environment. nil means os.LookupEnv.
	Env func(string) (string, bool)
	// IDE keeps a missing target unset instead of targetless (verify-config --ide).
	IDE bool
	// GitBranch gives the git_branch template variable; ok=false leaves it undefined.
	GitBranch func() (string, bool)
}

// Result of verifying one config text.
type Result struct {
	Format      Format
	Rendered    []byte       // the text after templating
	Diagnostics []Diagnostic // errors and warnings, ordered by position
	Config      *Config      // the resolved config; nil when there are errors
}

// HasErrors reports whether any diagnostic is an error.
func (r *Result) HasErrors() bool {
	for _, d := range r.Diagnostics {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Config is the resolved mirrord configuration.
type Config struct{}

// Verify renders, parses, resolves and validates a config text.
func Verify(ctx context.Context, text []byte, opts Options) *Result {
	return &Result{Diagnostics: []Diagnostic{{Severity: SeverityError, Message: "not implemented", Stage: StageSyntax}}}
}

// JSONSchema returns the embedded JSON Schema (draft 2020-12).
func JSONSchema() []byte {
	return []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`)
}

// FormatOf picks the format by file extension.
func FormatOf(path string) (Format, error) { return FormatJSON, errors.New("not implemented") }
