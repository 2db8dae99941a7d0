package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session"
)

// portForwardFlags are the flags of `mirrord port-forward`.
type portForwardFlags struct {
	session         sessionFlags
	address         string
	locals, remotes []string
	verbose         int
}

func newPortForwardCmd() *cobra.Command {
	var f portForwardFlags
	cmd := &cobra.Command{
		Use:   "port-forward [-t TARGET] [-n NAMESPACE] [-f CONFIG] [--address ADDR] [flags] -L [LOCAL_PORT:]HOST:REMOTE_PORT ... -R [REMOTE_PORT:]LOCAL_PORT ...",
		Short: "Forward local ports into the target (-L) and the target's incoming traffic to local ports (-R)",
		Long: `Forward local ports through the target (-L) and the target's incoming traffic
to local ports (-R), through a mirrord agent.

  -L [LOCAL_PORT:]HOST:REMOTE_PORT   listen on ADDR:LOCAL_PORT (default 127.0.0.1;
                                     LOCAL_PORT defaults to REMOTE_PORT); each
                                     connection is made from inside the target to
                                     HOST:REMOTE_PORT once the local side sends its
                                     first byte. HOST is resolved in the cluster,
                                     so Service names work. Works targetless.
  -R [REMOTE_PORT:]LOCAL_PORT        deliver the target's incoming traffic on
                                     REMOTE_PORT (default LOCAL_PORT) to
                                     127.0.0.1:LOCAL_PORT, in the mode and HTTP
                                     filter of feature.network.incoming of the
                                     config (mirror by default; --steal steals).
                                     Needs a target.

Repeat -L and -R as often as needed. -v prints every connection, -vv also the
data (like socat -v).

The agent is created in the cluster for the target's pod (as mirrord exec
does: a Job on the pod's node, or an ephemeral container) and deleted when the
command ends; a pre-started agent is used instead when agent.address and
agent.token (or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN) are set.

With a workload target (deployment, rollout, statefulset, ...), a deleted or
replaced pod is followed: the target is resolved again, a new agent comes up
for the new pod (the old one is deleted), listeners stay, and new connections
work again. A pod target that goes away ends the command with an error.

Flags override MIRRORD_* variables, which override the config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPortForward(cmd.Context(), f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	f.session.register(fl, sessionFlagSet{})
	// --namespace is the name -n had before it became --target-namespace.
	fl.StringVar(&f.session.targetNamespace, "namespace", "", "same as --target-namespace")
	_ = fl.MarkHidden("namespace")
	fl.StringVar(&f.address, "address", "127.0.0.1", "local IP address -L listens on")
	fl.StringArrayVarP(&f.locals, "local", "L", nil, "[LOCAL_PORT:]HOST:REMOTE_PORT to forward (repeatable)")
	fl.StringArrayVarP(&f.remotes, "remote", "R", nil, "[REMOTE_PORT:]LOCAL_PORT to receive (repeatable)")
	fl.CountVarP(&f.verbose, "verbose", "v", "print every connection (-v) and the data (-vv)")
	return cmd
}

func runPortForward(ctx context.Context, f portForwardFlags, stderr io.Writer) error {
	routes, err := portforward.ParseRoutes(f.locals, f.remotes)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(f.address)
	if err != nil {
		return fmt.Errorf("--address %q: not an IP address", f.address)
	}
	if f.session.target != "" {
		if _, err := targetpath.Parse(f.session.target); err != nil {
			return fmt.Errorf("-t: %w", err)
		}
	}
	rep := portforward.NewReporter(stderr, f.verbose)
	req := f.session.request()
	req.Progress = portForwardProgress(rep)
	// The config is checked against the target actually used (-t and -n
	// are overrides of the config engine, as mirrord's variables are).
	rc, err := session.ResolveConfig(ctx, req)
	if err != nil {
		return explain(err)
	}
	s := rc.Settings
	target := targetpath.Target{Kind: targetpath.Targetless}
	if s.Target != "" {
		if target, err = targetpath.Parse(s.Target); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	if target.Kind == targetpath.Targetless && len(routes.Remote) > 0 && (f.session.target != "" || s.Target != "") {
		return errors.New("-R needs a target: a targetless run receives no incoming traffic (give -t pod/NAME, deployment/NAME, ...)")
	}
	incoming, err := portForwardIncoming(s, len(routes.Remote) > 0)
	if err != nil {
		return err
	}
	cfg := portforward.Config{
		Routes:        routes,
		ListenAddress: addr.String(),
		Incoming:      incoming,
		Report:        rep,
	}
	info := protocol.ClientInfo{Name: "mirrord-port-forward", Version: version.Version}
	var kube *session.Kube
	if target.Kind != targetpath.Targetless || s.Agent.Address == "" {
		if kube, err = rc.Kube(); err != nil {
			return explain(err)
		}
	}
	if target.Kind != targetpath.Targetless {
		cfg.Tracker = &portforward.KubeTracker{Client: kube.Client, Resolver: kube.Resolver(), Namespace: kube.Namespace, Path: target}
	}
	if s.Agent.Address != "" {
		cfg.Agents = portforward.StaticAgent{Address: s.Agent.Address, Token: s.Agent.Token, Info: info}
	} else {
		agents := &session.Agents{Kube: kube, Resolved: rc, Info: info, Progress: req.Progress,
			Deleted: func(a *session.Agent, err error) {
				if err != nil {
					rep.Statusf("warning: removing the agent %s: %v", describeAgent(a), err)
					return
				}
				rep.Statusf("agent %s deleted", describeAgent(a))
			}}
		cfg.Agents = agents
		if target.Kind != targetpath.Targetless {
			// -L to the target pod's own loopback: straight through the
			// kubelet's port-forward, as kubectl does.
			pods := agentpod.NewTunnels(kube.REST)
			cfg.Pods = pods
			defer pods.Close()
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := agents.Close(cctx); err != nil {
				rep.Statusf("warning: %v", err)
			}
		}()
	}
	fwd, err := portforward.New(cfg)
	if err != nil {
		return err
	}
	return explain(fwd.Run(ctx))
}

// portForwardProgress reports the steps of bringing up each agent as
// status lines.
func portForwardProgress(rep *portforward.Reporter) session.ProgressFunc {
	return func(e session.Event) {
		switch e.Kind {
		case session.TaskProgress:
			rep.Statusf("%s: %s", e.Task, e.Message)
		case session.TaskFinished:
			if e.Success && e.Task != session.TaskConfig {
				rep.Statusf("%s: %s", e.Task, e.Message)
			}
		case session.Warning:
			rep.Statusf("warning: %s", e.Message)
		}
	}
}

// describeAgent names an agent in status lines.
func describeAgent(a *session.Agent) string {
	if a.Created.Ephemeral {
		return fmt.Sprintf("container %s of pod %s/%s", a.Created.Container, a.Created.Namespace, a.Created.Pod)
	}
	return fmt.Sprintf("Job %s/%s", a.Created.Namespace, a.Created.Job)
}

// portForwardIncoming takes -R's mode and HTTP filter from
// feature.network.incoming.
func portForwardIncoming(s settings.Settings, haveRemote bool) (portforward.Incoming, error) {
	in := portforward.Incoming{Filter: s.Incoming.HTTPFilter, FilterPorts: s.Incoming.HTTPFilterPorts}
	switch s.Incoming.Mode {
	case settings.IncomingMirror, "":
		in.Mode = protocol.ModeMirror
	case settings.IncomingSteal:
		in.Mode = protocol.ModeSteal
	case settings.IncomingOff:
		if haveRemote {
			return in, errors.New("-R: feature.network.incoming is off in the config; set its mode to mirror or steal")
		}
	default:
		return in, fmt.Errorf("feature.network.incoming.mode %q: want mirror, steal or off", s.Incoming.Mode)
	}
	return in, nil
}
