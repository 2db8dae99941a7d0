package settings

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// Load resolves a mirrord config file with the config engine (templates,
// environment overrides through lookup, validation) into Settings. An empty
// path resolves the defaults and the environment alone. Warnings are
// returned as "file:line:col: message"; errors fail with all of them.
func Load(ctx context.Context, path string, lookup func(string) (string, bool)) (Settings, []string, error) {
	text, name := []byte("{}"), "mirrord.json"
	if path != "" {
		var err error
		if text, err = os.ReadFile(path); err != nil {
			return Settings{}, nil, fmt.Errorf("read the config: %w", err)
		}
		name = path
	}
	res := schema.Verify(ctx, text, schema.Options{Path: name, Env: lookup})
	var errs, warns []string
	for _, d := range res.Diagnostics {
		at := name
		if d.Range != (schema.Range{}) {
			at = fmt.Sprintf("%s:%d:%d", name, d.Range.Start.Line+1, d.Range.Start.Column+1)
		}
		if d.Severity == schema.SeverityError {
			errs = append(errs, at+": "+d.Message)
		} else {
			warns = append(warns, at+": "+d.Message)
		}
	}
	if len(errs) > 0 || res.Config == nil {
		return Settings{}, warns, fmt.Errorf("invalid config:\n  %s", strings.Join(errs, "\n  "))
	}
	s, err := FromConfig(res.Config)
	return s, warns, err
}

// LoadFile is Load with the process environment, dropping warnings.
func LoadFile(path string) (Settings, error) {
	s, _, err := Load(context.Background(), path, nil)
	return s, err
}
