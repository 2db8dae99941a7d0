// Package handoff is what a session's starter (session.Start, in `mirrord
// ext` or mirrord-ls) hands to the session's long-lived process (`mirrord
// intproxy`): how to reach the agent, what to show in the session registry,
// and what to do when the session ends (remove the agent from the cluster,
// report a Jira worklog).
//
// It travels as JSON in the MIRRORD_SESSION_HANDOFF variable. It holds no
// secret: the agent token stays in the intproxy settings.
//
// The intproxy uses it in four places:
//
//	h, err := handoff.FromEnv(nil)                  // nil, nil when unset
//	agent, err := h.Dial(ctx, s.Agent.Address, s.Agent.Token, info)
//	h.Describe(&registryInfo)                       // before registry.Listen
//	defer func() { h.Finish(context.Background(), time.Now(), log, nil) }()
//
// All methods accept a nil *Handoff (a session started without one: plain
// `mirrord exec` with a pre-started agent).
package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/jirasite"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session/jira"
)

// EnvVar carries the handoff to the intproxy.
const EnvVar = "MIRRORD_SESSION_HANDOFF"

// Handoff describes a started session.
type Handoff struct {
	SessionID   string    `json:"session_id"`
	Target      string    `json:"target"`
	Namespace   string    `json:"namespace,omitempty"`
	KubeContext string    `json:"kube_context,omitempty"`
	Branch      string    `json:"branch,omitempty"`
	ConfigPath  string    `json:"config_path,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	// Address is a pre-started agent's HOST:PORT; empty for a cluster agent.
	Address string `json:"address,omitempty"`
	// Kube is the agent the session created in the cluster.
	Kube *KubeAgent `json:"kube,omitempty"`
	// Jira, when set, reports a worklog when the session ends.
	Jira *jira.Settings `json:"jira,omitempty"`
}

// KubeAgent is an agent in a cluster, and how to reach the cluster.
type KubeAgent struct {
	// Kubeconfig is the config's explicit kubeconfig file; KubeconfigEnv
	// the KUBECONFIG the session was started with (it may differ from the
	// intproxy's own environment, e.g. a launch configuration's).
	Kubeconfig    string         `json:"kubeconfig,omitempty"`
	KubeconfigEnv string         `json:"kubeconfig_env,omitempty"`
	Context       string         `json:"context,omitempty"`
	Agent         agentpod.Agent `json:"agent"`
}

// Encode returns the value of EnvVar.
func (h *Handoff) Encode() (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode session handoff: %w", err)
	}
	return string(b), nil
}

// FromEnv reads EnvVar through lookup (nil: os.LookupEnv). It returns nil
// and no error when the variable is unset.
func FromEnv(lookup func(string) (string, bool)) (*Handoff, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(EnvVar)
	if !ok || v == "" {
		return nil, nil
	}
	var h Handoff
	if err := json.Unmarshal([]byte(v), &h); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return &h, nil
}

// clientSet builds a clientset for the cluster of a kube agent.
func (k *KubeAgent) restConfig() (*kubeconfig.Config, error) {
	kc, err := kubeconfig.Load(kubeconfig.Options{Kubeconfig: k.Kubeconfig, Context: k.Context, LookupEnv: func(name string) (string, bool) {
		if name == "KUBECONFIG" && k.KubeconfigEnv != "" {
			return k.KubeconfigEnv, true
		}
		return os.LookupEnv(name)
	}})
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig for the agent: %w", err)
	}
	return kc, nil
}

// Dial connects to the session's agent: a cluster agent through the
// pods/portforward subresource (retrying until ctx ends, since an agent
// container that just started may not listen yet), otherwise the address
// (the handoff's, else fallback: the settings' agent.address).
func (h *Handoff) Dial(ctx context.Context, fallback, token string, info protocol.ClientInfo) (*protocol.Client, error) {
	opts := protocol.Options{Token: token, Info: info}
	if h == nil || h.Kube == nil {
		addr := fallback
		if h != nil && h.Address != "" {
			addr = h.Address
		}
		if addr == "" {
			return nil, errors.New("no agent to connect to: no agent address and no cluster agent")
		}
		return protocol.Dial(ctx, addr, opts)
	}
	kc, err := h.Kube.restConfig()
	if err != nil {
		return nil, err
	}
	a := h.Kube.Agent
	return DialKube(ctx, func(ctx context.Context) (io.ReadWriteCloser, error) {
		return agentpod.Dial(ctx, kc.REST, a.Namespace, a.Pod, a.Port)
	}, opts)
}

// DialKube runs the agent handshake over streams from open, retrying with
// backoff (10 ms doubling to 1 s) until it succeeds or ctx ends: an agent
// container that just started may not listen yet. A peer that answers
// something other than this protocol (protocol.ErrNotAgent, e.g. an agent
// image of another mirrord) or speaks an incompatible version
// (protocol.ErrIncompatible) fails at once: retrying cannot help.
func DialKube(ctx context.Context, open func(context.Context) (io.ReadWriteCloser, error), opts protocol.Options) (*protocol.Client, error) {
	delay := 10 * time.Millisecond
	var last error
	for {
		conn, err := open(ctx)
		if err == nil {
			c, herr := protocol.NewClient(ctx, conn, opts)
			if herr == nil {
				return c, nil
			}
			conn.Close()
			if errors.Is(herr, protocol.ErrNotAgent) || errors.Is(herr, protocol.ErrIncompatible) {
				return nil, fmt.Errorf("connect to the agent: %w", herr)
			}
			err = herr
		}
		if last == nil || ctx.Err() == nil {
			last = err // an attempt cut short by ctx says less than the one before
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the agent: %w (last attempt: %w)", ctx.Err(), last)
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// Describe adds what the handoff knows to a registry entry.
func (h *Handoff) Describe(info *registry.Info) {
	if h == nil {
		return
	}
	if h.Target != "" {
		info.Target = h.Target
	}
	info.Namespace = h.Namespace
	info.Context = h.KubeContext
	info.Branch = h.Branch
	if h.ConfigPath != "" {
		info.ConfigPath = h.ConfigPath
	}
	if !h.StartedAt.IsZero() {
		info.StartedAt = h.StartedAt
	}
	switch {
	case h.Kube != nil && h.Kube.Agent.Ephemeral:
		info.Agent = fmt.Sprintf("pod/%s/container/%s (%s)", h.Kube.Agent.Pod, h.Kube.Agent.Container, h.Kube.Agent.Namespace)
	case h.Kube != nil:
		info.Agent = fmt.Sprintf("job/%s (%s)", h.Kube.Agent.Job, h.Kube.Agent.Namespace)
	case h.Address != "":
		info.Agent = h.Address
	}
}

// Finish runs when the session ends: it removes the agent from the cluster
// and reports the session to Jira. Failures are logged, never returned: the
// session is over either way. Credentials for Jira come from lookup (nil:
// os.LookupEnv).
func (h *Handoff) Finish(ctx context.Context, ended time.Time, log *slog.Logger, lookup func(string) (string, bool)) {
	if h == nil {
		return
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.Kube != nil {
		if err := h.deleteAgent(ctx); err != nil {
			log.Warn("removing the agent", "err", err)
		} else {
			log.Info("agent removed", "namespace", h.Kube.Agent.Namespace, "job", h.Kube.Agent.Job)
		}
	}
	if err := h.ReportJira(ctx, ended, lookup, nil); err != nil {
		log.Warn("jira worklog", "err", err)
	}
}

func (h *Handoff) deleteAgent(ctx context.Context) error {
	kc, err := h.Kube.restConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(kc.REST)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return h.Kube.Agent.Delete(ctx, client)
}

// ErrNoJira: the session has no Jira settings, no credentials, or its
// branch has no issue key; nothing was reported.
var ErrNoJira = errors.New("no jira report")

// ReportJira posts the session's worklog when Jira is configured, the
// credentials are in the environment and the branch names an issue. A
// session that is not reported returns an error wrapping ErrNoJira that
// says why. client nil uses the reporter's default.
func (h *Handoff) ReportJira(ctx context.Context, ended time.Time, lookup func(string) (string, bool), client *http.Client) error {
	if h == nil || h.Jira == nil || h.Jira.URL == "" {
		return fmt.Errorf("%w: jira is not configured", ErrNoJira)
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	// The credentials go only to a site the user chose (also checked
	// when the config is resolved; this holds for any handoff file).
	if err := jirasite.CheckSite(h.Jira.URL, lookup); err != nil {
		return fmt.Errorf("%w: %w", ErrNoJira, err)
	}
	creds, err := jira.CredentialsFromEnv(lookup)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoJira, err)
	}
	r, err := jira.NewReporter(*h.Jira, creds, client)
	if err != nil {
		return err
	}
	key, ok := r.IssueKey(h.Branch)
	if !ok {
		return fmt.Errorf("%w: branch %q names no issue", ErrNoJira, h.Branch)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return r.Report(ctx, jira.Worklog{
		IssueKey: key, Started: h.StartedAt, Duration: ended.Sub(h.StartedAt),
		Branch: h.Branch, Target: h.Target, Session: h.SessionID,
	})
}
