// Package schema is the mirrord configuration engine shared by the CLI and
// the language server: the config model, the embedded JSON Schema, Tera-style
// templating, validation with exact source positions, precedence of flags,
// environment and file, and config discovery.
//
// This file is the contract other packages build on. Its types are stable;
// the functions are implemented across the package.
package schema

import "fmt"

// Severity of a diagnostic. The values equal LSP's DiagnosticSeverity.
type Severity int

const (
	SeverityError   Severity = 1
	SeverityWarning Severity = 2
)

func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	default:
		return "unknown"
	}
}

// MarshalText renders the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Position is a place in the ORIGINAL (unrendered) file text. Line and
// Column are 0-based; Column counts bytes, UTF16 counts UTF-16 code units as
// editors (LSP) do. Offset is the byte offset from the start of the file.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	UTF16  int `json:"utf16"`
	Offset int `json:"offset"`
}

// Range is a half-open span [Start, End) of the original text.
type Range struct {
	Start Position `json:"start"`
	End   Position `json:"end"`
}

// Stage names where a finding comes from.
type Stage string

const (
	StageSyntax   Stage = "syntax"   // the file does not parse as JSON/YAML/TOML
	StageTemplate Stage = "template" // Tera parse or render error
	StageSchema   Stage = "schema"   // JSON Schema (types, unknown keys, enums)
	StageSemantic Stage = "semantic" // the rules of reference §4 (mutual exclusion, grammars, regexes, ...)
	StageEnv      Stage = "env"      // an environment variable override failed to parse
)

// Diagnostic is one finding about a config file.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Pointer is the RFC 6901 JSON pointer of the field ("" for the root or
	// for findings without a field, e.g. syntax errors).
	Pointer string `json:"pointer"`
	// Range in the original file text. For findings that have no place in
	// the file (environment variables), the zero range.
	Range Range `json:"range"`
	// Code is the rule id, e.g. "V-HTTP-EXCLUSIVE", "A-UNKNOWN", "SYNTAX".
	Code  string `json:"code,omitempty"`
	Stage Stage  `json:"stage"`
	// Suggestion is a did-you-mean replacement for unknown keys / enum
	// values, when one is close enough; empty otherwise.
	Suggestion string `json:"suggestion,omitempty"`
}

// Format of a config file, chosen by extension.
type Format int

const (
	FormatJSON Format = iota
	FormatYAML
	FormatTOML
)

// UnmarshalText parses "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}
