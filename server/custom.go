package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// VerifyConfigParams of mirrord/verifyConfig (docs/protocol.md).
type VerifyConfigParams struct {
	// URI of the config; an open document is verified as the editor holds
	// it (unsaved edits included).
	URI protocol.DocumentURI `json:"uri,omitempty"`
	// Path of the config on disk, when no URI is given.
	Path string `json:"path,omitempty"`
	// Env is the launch environment: looked up before the server's own.
	Env map[string]string `json:"env,omitempty"`
	// IDE (default true) keeps a missing target unset instead of
	// targetless, as verify-config --ide does.
	IDE *bool `json:"ide,omitempty"`
	// Resolved adds the fully resolved config to the answer.
	Resolved bool `json:"resolved,omitempty"`
}

func (p *VerifyConfigParams) validate() error {
	if p.URI == "" && p.Path == "" {
		return errors.New("uri or path is required")
	}
	return nil
}

// VerifyDiagnostic is one finding of mirrord/verifyConfig.
type VerifyDiagnostic struct {
	Severity   string         `json:"severity"`
	Message    string         `json:"message"`
	Pointer    string         `json:"pointer"`
	Range      protocol.Range `json:"range"`
	Code       string         `json:"code,omitempty"`
	Stage      string         `json:"stage"`
	Suggestion string         `json:"suggestion,omitempty"`
}

// VerifiedTarget is the target the config names (verify-config's
// "config"): Path in mirrord's shape (null, "targetless", or an object such
// as {"deployment": "api", "container": null}), Target the same as a path
// string ("deployment/api").
type VerifiedTarget struct {
	Path      any     `json:"path"`
	Namespace *string `json:"namespace"`
	Target    string  `json:"target,omitempty"`
}

// VerifyConfigResult answers mirrord/verifyConfig. Type, Config, Warnings
// and Errors keep the shape of `mirrord verify-config --ide`.
type VerifyConfigResult struct {
	Type     string          `json:"type"` // "Success" or "Fail"
	Path     string          `json:"path"`
	Format   string          `json:"format"`
	Config   *VerifiedTarget `json:"config,omitempty"`
	Warnings []string        `json:"warnings"`
	// CompatibleTargetTypes lists the kinds a target picker may offer.
	CompatibleTargetTypes []string           `json:"compatible_target_types,omitempty"`
	Errors                []string           `json:"errors,omitempty"`
	Diagnostics           []VerifyDiagnostic `json:"diagnostics"`
	ResolvedConfig        *schema.Config     `json:"resolved_config,omitempty"`
}

// lookupWith layers a launch environment over the server's.
func (s *Server) lookupWith(env map[string]string) func(string) (string, bool) {
	base := s.opts.LookupEnv
	if len(env) == 0 {
		return base
	}
	return func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return base(name)
	}
}

func (s *Server) verifyConfig(ctx context.Context, p VerifyConfigParams) (*VerifyConfigResult, error) {
	var path, text string
	if p.URI != "" {
		if d := s.docs.get(p.URI); d != nil {
			path, text = d.path, d.doc.Text()
		} else {
			fp, err := lsp.Path(p.URI)
			if err != nil {
				return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, err.Error())
			}
			path = fp
		}
	} else {
		path = p.Path
		if !filepath.IsAbs(path) {
			if folder := s.firstFolder(); folder != "" {
				path = filepath.Join(folder, path)
			}
		}
	}
	if text == "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the config: %w", err)
		}
		text = string(data)
	}
	ide := true
	if p.IDE != nil {
		ide = *p.IDE
	}
	res := schema.Verify(ctx, []byte(text), schema.Options{Path: path, Env: s.lookupWith(p.Env), IDE: ide})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &VerifyConfigResult{Type: "Success", Path: path, Format: formatName(res.Format, path), Warnings: []string{}, Diagnostics: []VerifyDiagnostic{}}
	lds := toLSPDiagnostics(res.Diagnostics, s.encoding())
	for i, d := range res.Diagnostics {
		out.Diagnostics = append(out.Diagnostics, VerifyDiagnostic{
			Severity: d.Severity.String(), Message: d.Message, Pointer: d.Pointer, Range: lds[i].Range,
			Code: d.Code, Stage: string(d.Stage), Suggestion: d.Suggestion,
		})
		if d.Severity == schema.SeverityError {
			out.Errors = append(out.Errors, d.Message)
		} else {
			out.Warnings = append(out.Warnings, d.Message)
		}
	}
	if res.HasErrors() || res.Config == nil {
		out.Type = "Fail"
		return out, nil
	}
	out.Config = &VerifiedTarget{Namespace: res.Config.Target.Namespace}
	switch {
	case res.Config.Target.Path != nil:
		out.Config.Path = schema.VerifiedTarget(res.Config.Target.Path)
		out.Config.Target = res.Config.Target.Path.String()
	case res.Config.Targetless:
		out.Config.Path, out.Config.Target = "targetless", "targetless"
	}
	out.CompatibleTargetTypes = schema.CompatibleTargetTypes(res.Config)
	if p.Resolved {
		out.ResolvedConfig = res.Config
	}
	return out, nil
}

func formatName(f schema.Format, path string) string {
	if _, ok := formatByExtension(filepath.Ext(path)); !ok {
		return ""
	}
	switch f {
	case schema.FormatYAML:
		return "yaml"
	case schema.FormatTOML:
		return "toml"
	default:
		return "json"
	}
}

func (s *Server) firstFolder() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.folders) > 0 {
		return s.folders[0]
	}
	return ""
}

// DiscoverConfigParams of mirrord/discoverConfig.
type DiscoverConfigParams struct {
	// WorkspaceFolder (a path or file URI) of the launch; default: the
	// first workspace folder.
	WorkspaceFolder string `json:"workspaceFolder,omitempty"`
	// Active is the config the user chose (a path or file URI), if any.
	Active string `json:"active,omitempty"`
	// Env is the launch environment (MIRRORD_CONFIG_FILE is read from it,
	// then from the server's environment).
	Env map[string]string `json:"env,omitempty"`
}

// DiscoverConfigResult answers mirrord/discoverConfig.
type DiscoverConfigResult struct {
	Path   string               `json:"path,omitempty"`
	URI    protocol.DocumentURI `json:"uri,omitempty"`
	Source string               `json:"source"` // active, env, default, none
	Reason string               `json:"reason"`
}

func pathOrURI(s string) (string, error) {
	if strings.HasPrefix(s, "file:") {
		return lsp.Path(protocol.DocumentURI(s))
	}
	return s, nil
}

func (s *Server) discoverConfig(_ context.Context, p DiscoverConfigParams) (*DiscoverConfigResult, error) {
	folder, err := pathOrURI(p.WorkspaceFolder)
	if err != nil {
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "workspaceFolder: "+err.Error())
	}
	if folder == "" {
		folder = s.firstFolder()
	}
	active, err := pathOrURI(p.Active)
	if err != nil {
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "active: "+err.Error())
	}
	d, err := schema.Discover(schema.DiscoverOptions{Explicit: active, WorkspaceFolder: folder, LookupEnv: s.lookupWith(p.Env)})
	if err != nil {
		return nil, err
	}
	out := &DiscoverConfigResult{Path: d.Path, Source: d.Source, Reason: d.Reason}
	if d.Path != "" {
		abs, err := filepath.Abs(d.Path)
		if err == nil {
			out.URI = lsp.URIFromPath(abs)
		}
	}
	return out, nil
}
