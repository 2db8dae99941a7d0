package main

import (
	"log/slog"
	"testing"
)

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--version"}, 0},
		{[]string{"--help"}, 0},
		{[]string{}, 2},                                 // --stdio is required
		{[]string{"--bogus"}, 2},                        // unknown flag
		{[]string{"--stdio", "--log-level", "loud"}, 2}, // unknown level
		{[]string{"--stdio", "--log-file", "/nonexistent/dir/x.log"}, 2},
	} {
		if got := run(tc.args); got != tc.code {
			t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.code)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := parseLevel(in); err != nil || got != want {
			t.Errorf("parseLevel(%q) = %v, %v", in, got, err)
		}
	}
}
