package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/kube/targetpath"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// portForwardFlags are the flags of `mirrord port-forward`.
type portForwardFlags struct {
	target, namespace, configFile, kubeContext, address string
	locals, remotes                                     []string
	verbose                                             int
}

func newPortForwardCmd() *cobra.Command {
	var f portForwardFlags
	cmd := &cobra.Command{
		Use:   "port-forward [-t TARGET] [-n NAMESPACE] [-f CONFIG] [--address ADDR] -L [LOCAL_PORT:]HOST:REMOTE_PORT ... -R [REMOTE_PORT:]LOCAL_PORT ...",
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
                                     config (mirror by default). Needs a target.

Repeat -L and -R as often as needed. -v prints every connection, -vv also the
data (like socat -v).

With a workload target (deployment, rollout, statefulset, ...), a deleted or
replaced pod is followed: the target is resolved again, an agent comes up for
the new pod, listeners stay, and new connections work again. A pod target that
goes away ends the command with an error.

The agent must already be running: agent.address (HOST:PORT) and agent.token
in the config, or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPortForward(cmd.Context(), f, os.LookupEnv, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.target, "target", "t", "", "target path (pod/NAME, deployment/NAME, ..., targetless); default: the config's target, else targetless")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the target (default: target.namespace, else the kube context's)")
	fl.StringVarP(&f.configFile, "config-file", "f", "", "mirrord config file (default $"+envConfigPath+")")
	fl.StringVar(&f.kubeContext, "context", "", "kube context (default: kube_context of the config, else the current one)")
	fl.StringVar(&f.address, "address", "127.0.0.1", "local IP address -L listens on")
	fl.StringArrayVarP(&f.locals, "local", "L", nil, "[LOCAL_PORT:]HOST:REMOTE_PORT to forward (repeatable)")
	fl.StringArrayVarP(&f.remotes, "remote", "R", nil, "[REMOTE_PORT:]LOCAL_PORT to receive (repeatable)")
	fl.CountVarP(&f.verbose, "verbose", "v", "print every connection (-v) and the data (-vv)")
	return cmd
}

func runPortForward(ctx context.Context, f portForwardFlags, env func(string) (string, bool), stderr io.Writer) error {
	routes, err := portforward.ParseRoutes(f.locals, f.remotes)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(f.address)
	if err != nil {
		return fmt.Errorf("--address %q: not an IP address", f.address)
	}
	if f.target != "" {
		if _, err := targetpath.Parse(f.target); err != nil {
			return fmt.Errorf("-t: %w", err)
		}
	}
	configPath := f.configFile
	if configPath == "" {
		configPath, _ = env(envConfigPath)
	}
	// -t and -n override the config as mirrord's own variables do, so the
	// config is checked against the target actually used.
	lookup := func(name string) (string, bool) {
		switch {
		case name == "MIRRORD_IMPERSONATED_TARGET" && f.target != "":
			return f.target, true
		case name == "MIRRORD_TARGET_NAMESPACE" && f.namespace != "":
			return f.namespace, true
		}
		return env(name)
	}
	s, warnings, err := settings.Load(ctx, configPath, lookup)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err := s.ApplyEnv(lookup); err != nil {
		return err
	}
	target := targetpath.Target{Kind: targetpath.Targetless}
	if s.Target != "" {
		if target, err = targetpath.Parse(s.Target); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	if target.Kind == targetpath.Targetless && len(routes.Remote) > 0 && (f.target != "" || s.Target != "") {
		return errors.New("-R needs a target: a targetless run receives no incoming traffic (give -t pod/NAME, deployment/NAME, ...)")
	}
	incoming, err := portForwardIncoming(s, len(routes.Remote) > 0)
	if err != nil {
		return err
	}
	if s.Agent.Address == "" {
		return errors.New("no agent to connect to: set agent.address and agent.token in the config, " +
			"or MIRRORD_AGENT_ADDRESS and MIRRORD_AGENT_TOKEN (port-forward does not create agents yet)")
	}
	cfg := portforward.Config{
		Routes:        routes,
		ListenAddress: addr.String(),
		Incoming:      incoming,
		Agents: portforward.StaticAgent{Address: s.Agent.Address, Token: s.Agent.Token,
			Info: protocol.ClientInfo{Name: "mirrord-port-forward", Version: version.Version}},
		Report: portforward.NewReporter(stderr, f.verbose),
	}
	if target.Kind != targetpath.Targetless {
		if cfg.Tracker, err = kubeTracker(ctx, f, configPath, lookup, target); err != nil {
			return err
		}
	}
	fwd, err := portforward.New(cfg)
	if err != nil {
		return err
	}
	return fwd.Run(ctx)
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

// kubeTracker builds the Kubernetes side: the kube config of the config
// file (kubeconfig, kube_context, target.namespace), -n and --context.
func kubeTracker(ctx context.Context, f portForwardFlags, configPath string, env func(string) (string, bool), target targetpath.Target) (portforward.Tracker, error) {
	ks, err := lsConfig(ctx, configPath, env)
	if err != nil {
		return nil, err
	}
	kctx := f.kubeContext
	if kctx == "" {
		kctx = ks.kubeContext
	}
	kc, err := kubeconfig.Load(kubeconfig.Options{Kubeconfig: ks.kubeconfig, Context: kctx, LookupEnv: env})
	if err != nil {
		return nil, err
	}
	ns := f.namespace
	if ns == "" {
		ns = ks.namespace
	}
	if ns == "" {
		ns = kc.Namespace
	}
	client, err := kubernetes.NewForConfig(kc.REST)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(kc.REST)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &portforward.KubeTracker{Client: client, Resolver: &resolve.Resolver{Client: client, Dynamic: dyn},
		Namespace: ns, Path: target}, nil
}
