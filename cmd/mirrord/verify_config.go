package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// verifyOutput is the JSON printed by verify-config: mirrord's contract
// (reference ide-contract.md §3.3) plus a diagnostics array.
type verifyOutput struct {
	Type                  string              `json:"type"`
	Config                *verifiedConfig     `json:"config,omitempty"`
	Warnings              *[]string           `json:"warnings,omitempty"` // always present on Success
	Errors                []string            `json:"errors,omitempty"`
	CompatibleTargetTypes []string            `json:"compatible_target_types,omitempty"`
	ResolvedConfig        *schema.Config      `json:"resolved_config,omitempty"`
	Diagnostics           []schema.Diagnostic `json:"diagnostics"`
}

type verifiedConfig struct {
	Path      any     `json:"path"`
	Namespace *string `json:"namespace"`
}

func newVerifyConfigCmd() *cobra.Command {
	var ide, resolved bool
	var output string
	cmd := &cobra.Command{
		Use:   "verify-config [--ide] [--resolved] [-o json|text] PATH",
		Short: "Check a mirrord config file and print the result",
		Long: `Renders, parses and validates a mirrord config file (JSON, YAML or TOML;
"-" reads JSON from stdin) and prints the result.

With -o json (the default) the output is the JSON of mirrord's verify-config
(type Success/Fail, config, warnings, errors, compatible_target_types and,
with --resolved, resolved_config) plus a "diagnostics" array with the
severity, message, JSON pointer and range of every finding. The command
exits 0 whether the config is valid or not, as mirrord does.

With -o text it prints one "file:line:col: severity: message" line per
finding (1-based line, byte column) and exits 1 when there are errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "text" {
				return fmt.Errorf("unknown output format %q: expected json or text", output)
			}
			path := args[0]
			text, err := readConfig(cmd.InOrStdin(), path)
			if err != nil {
				return err
			}
			opts := schema.Options{Path: path, IDE: ide, Env: os.LookupEnv, GitBranch: gitBranch(cmd.Context())}
			res := schema.Verify(cmd.Context(), text, opts)
			if output == "text" {
				if printText(cmd.OutOrStdout(), path, res) {
					return errConfigInvalid
				}
				return nil
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(buildVerifyOutput(path, res, resolved)); err != nil {
				return fmt.Errorf("write verify-config output: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ide, "ide", false, "leave a missing target unset instead of targetless (as IDE extensions do)")
	cmd.Flags().BoolVar(&resolved, "resolved", false, "include the resolved config in the output")
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or text")
	return cmd
}

// errConfigInvalid makes `-o text` exit non-zero after printing findings.
var errConfigInvalid = errors.New("the config has errors")

func readConfig(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read config from stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return b, nil
}

func buildVerifyOutput(path string, res *schema.Result, withResolved bool) verifyOutput {
	out := verifyOutput{Diagnostics: res.Diagnostics}
	if out.Diagnostics == nil {
		out.Diagnostics = []schema.Diagnostic{}
	}
	if res.HasErrors() {
		out.Type = "Fail"
		for _, d := range res.Errors() {
			out.Errors = append(out.Errors, "Failed to verify mirrord config: "+locate(path, d)+d.Message)
		}
		return out
	}
	out.Type = "Success"
	cfg := res.Config
	out.Config = &verifiedConfig{Path: schema.VerifiedTarget(cfg.Target.Path), Namespace: cfg.Target.Namespace}
	warnings := []string{}
	for _, d := range res.Warnings() {
		warnings = append(warnings, d.Message)
	}
	out.Warnings = &warnings
	out.CompatibleTargetTypes = schema.CompatibleTargetTypes(cfg)
	if withResolved {
		out.ResolvedConfig = cfg
	}
	return out
}

// locate renders "file:line:col: " (1-based) for findings with a place.
func locate(path string, d schema.Diagnostic) string {
	if d.Range == (schema.Range{}) && d.Pointer == "" && d.Stage == schema.StageEnv {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d: ", path, d.Range.Start.Line+1, d.Range.Start.Column+1)
}

// printText prints one line per finding and reports whether any is an error.
func printText(w io.Writer, path string, res *schema.Result) bool {
	var b bytes.Buffer
	for _, d := range res.Diagnostics {
		loc := locate(path, d)
		if loc == "" {
			loc = path + ": "
		}
		fmt.Fprintf(&b, "%s%s: %s", loc, d.Severity, d.Message)
		if d.Code != "" {
			fmt.Fprintf(&b, " [%s]", d.Code)
		}
		b.WriteByte('\n')
	}
	if len(res.Diagnostics) == 0 {
		fmt.Fprintf(&b, "%s: ok\n", path)
	}
	_, _ = w.Write(b.Bytes())
	return res.HasErrors()
}

// gitBranch gives the git_branch template variable as mirrord does:
// MIRRORD_BRANCH_NAME when non-empty, else `git branch --show-current` in
// the working directory; undefined when neither gives a name.
func gitBranch(ctx context.Context) func() (string, bool) {
	return func() (string, bool) {
		if b := os.Getenv("MIRRORD_BRANCH_NAME"); b != "" {
			return b, true
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "git", "branch", "--show-current").Output()
		if b := strings.TrimSpace(string(out)); err == nil && b != "" {
			return b, true
		}
		return "", false
	}
}
