package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/schema/configref"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
)

// Workspace trust (docs/security.md). A workspace file may name a
// kubeconfig (the config's `kubeconfig` field); using it contacts whatever
// cluster it names and runs its exec credential plugins, so mirrord-ls uses
// such a kubeconfig only in a workspace the user trusts. The user's own
// kubeconfig (KUBECONFIG, else ~/.kube/config) is always usable. A client
// that says nothing about trust gets an untrusted workspace.

// MethodDidChangeWorkspaceTrust is the notification by which the editor
// tells the server that the user granted (or withdrew) trust in the
// workspace: {"trusted": bool}.
const MethodDidChangeWorkspaceTrust = "mirrord/didChangeWorkspaceTrust"

// CodeWorkspaceNotTrusted is the code of the diagnostic that replaces the
// cluster check of a target in an untrusted workspace.
const CodeWorkspaceNotTrusted = "WORKSPACE-NOT-TRUSTED"

// ErrWorkspaceNotTrusted is wrapped by every refusal to use a
// workspace-named kubeconfig.
var ErrWorkspaceNotTrusted = errors.New("workspace not trusted")

// trust is the workspace's trust, as the client last said.
type trust struct {
	trusted atomic.Bool
}

// WorkspaceTrustParams of mirrord/didChangeWorkspaceTrust.
type WorkspaceTrustParams struct {
	Trusted bool `json:"trusted"`
}

// workspaceTrusted reports whether the client said the workspace is
// trusted.
func (s *Server) workspaceTrusted() bool {
	return s.trust.trusted.Load()
}

// setWorkspaceTrusted records the workspace's trust; when it changes, the
// cached target checks are dropped and every open document is validated
// again (its cluster check now runs, or is refused).
func (s *Server) setWorkspaceTrusted(trusted bool) {
	if s.trust.trusted.Swap(trusted) == trusted {
		return
	}
	s.log.Info("workspace trust changed", "trusted", trusted)
	if s.diags.checker != nil {
		s.diags.checker.forget()
	}
	for _, uri := range s.docs.uris() {
		s.diags.schedule(uri)
	}
}

func (s *Server) didChangeWorkspaceTrust(_ context.Context, p WorkspaceTrustParams) error {
	s.setWorkspaceTrusted(p.Trusted)
	return nil
}

// didChangeConfiguration reads the trust from the settings when they carry
// it: {"settings": {"mirrord": {"workspaceTrusted": bool}}}. Other settings
// are ignored.
func (s *Server) didChangeConfiguration(_ context.Context, p struct {
	Settings json.RawMessage `json:"settings"`
}) error {
	if len(p.Settings) == 0 {
		return nil
	}
	var settings struct {
		Mirrord struct {
			WorkspaceTrusted *bool `json:"workspaceTrusted"`
		} `json:"mirrord"`
	}
	if err := json.Unmarshal(p.Settings, &settings); err != nil {
		return nil // settings of another shape: not ours
	}
	if t := settings.Mirrord.WorkspaceTrusted; t != nil {
		s.setWorkspaceTrusted(*t)
	}
	return nil
}

// userKubeconfig reports whether path is one of the user's own kubeconfig
// files (an entry of KUBECONFIG, else ~/.kube/config).
func (s *Server) userKubeconfig(path string) bool {
	clean := filepath.Clean(path)
	for _, p := range assist.KubeconfigPaths(s.opts.LookupEnv) {
		if filepath.Clean(p) == clean {
			return true
		}
	}
	return false
}

// allowKubeconfig decides whether the cluster may be contacted through a
// kubeconfig a config names (resolved: absolute, "~/" expanded). "" is the
// user's own kubeconfig. Refusals wrap ErrWorkspaceNotTrusted and say what
// to do.
func (s *Server) allowKubeconfig(kubeconfig string) error {
	if kubeconfig == "" || s.workspaceTrusted() || s.userKubeconfig(kubeconfig) {
		return nil
	}
	return fmt.Errorf("%w: the config names the kubeconfig %s; a kubeconfig named by a workspace file (its cluster, its exec credential plugins) is used only in a trusted workspace: trust the workspace, or remove `kubeconfig` to use your own (KUBECONFIG or ~/.kube/config)",
		ErrWorkspaceNotTrusted, kubeconfig)
}

// sessionKubeconfigEnv are the launch-environment variables that choose
// the kubeconfig of a session (`mirrord ext` reads them).
var sessionKubeconfigEnv = []string{"MIRRORD_KUBECONFIG", "KUBECONFIG"}

// allowSession decides whether mirrord/startSession may start a session in
// this workspace. In an untrusted one neither the config (its `kubeconfig`)
// nor the launch environment (which comes from the workspace's launch
// configuration) may choose a kubeconfig other than the user's own: the
// session would contact its cluster and run its exec plugins. A config that
// cannot be read is left for the session to report.
func (s *Server) allowSession(ctx context.Context, p sessionapi.StartSessionParams) error {
	if s.workspaceTrusted() {
		return nil
	}
	for _, name := range sessionKubeconfigEnv {
		v := p.Env[name]
		for _, path := range filepath.SplitList(v) {
			if path == "" {
				continue
			}
			path = configref.ExpandHome(path, s.opts.LookupEnv)
			if !filepath.IsAbs(path) || !s.userKubeconfig(path) {
				return fmt.Errorf("%w: the launch environment sets %s=%s; a kubeconfig chosen by a workspace file (its cluster, its exec credential plugins) is used only in a trusted workspace: trust the workspace, or remove %s from the launch configuration",
					ErrWorkspaceNotTrusted, name, v, name)
			}
		}
	}
	if p.ConfigPath == "" {
		return nil
	}
	ref, err := s.configClusterRef(ctx, "", p.ConfigPath)
	if err != nil {
		return nil
	}
	return s.allowKubeconfig(ref.Kubeconfig)
}

// trustGate is the ClusterCompleter the engine uses: it asks the real one
// only when the document's kubeconfig may be used, and proposes nothing
// otherwise (validation and completion of the schema go on).
type trustGate struct {
	s    *Server
	next ClusterCompleter
}

func (g trustGate) CompleteCluster(ctx context.Context, q targets.ClusterQuery) (targets.ClusterAnswer, error) {
	// Read the kubeconfig as the cluster side does (templates rendered).
	r := configref.FromText(ctx, q.Document, schema.Format(q.Format), q.Offset, g.s.opts.LookupEnv)
	if err := g.s.allowKubeconfig(g.s.clusterRefOf(r, q.Path).Kubeconfig); err != nil {
		g.s.log.Debug("cluster completion refused", "error", err)
		return targets.ClusterAnswer{}, nil
	}
	return g.next.CompleteCluster(ctx, q)
}
