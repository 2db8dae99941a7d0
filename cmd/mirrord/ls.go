package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

// lsFlags are the flags of `mirrord ls`.
type lsFlags struct {
	output      string
	namespace   string
	configFile  string
	targetTypes []string
}

func newLsCmd() *cobra.Command {
	var f lsFlags
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the targets of a namespace (pods, deployments, rollouts, ...)",
		Long: `List the targets mirrord can run against, with one paginated LIST per kind.

Output is a JSON array of target paths; with MIRRORD_LS_RICH_OUTPUT=true it is
one JSON object {"targets":[{"path","available"}],"current_namespace","namespaces"}
(the contract IDE extensions use). -o table prints a table for people.

Target types: -t (repeatable) or MIRRORD_LS_TARGET_TYPES (a JSON array);
default pod, deployment, rollout. Also listable: statefulset, replicaset, job,
cronjob, service. The namespace is -n, else target.namespace of the config
(-f or MIRRORD_CONFIG_FILE, with MIRRORD_TARGET_NAMESPACE overriding it), else
the kube context's namespace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLs(cmd.Context(), f, os.LookupEnv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "json", "output format: json or table")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "namespace to list (default: target.namespace, else the context's)")
	fl.StringVarP(&f.configFile, "config-file", "f", "", "mirrord config file (its target.namespace, kubeconfig and kube_context are used)")
	fl.StringArrayVarP(&f.targetTypes, "target-type", "t", nil, "target type to list (repeatable); overrides MIRRORD_LS_TARGET_TYPES")
	return cmd
}

// lsSettings are the cluster settings `ls` takes from the config.
type lsSettings struct {
	namespace   string
	kubeconfig  string
	kubeContext string
}

// lsConfig reads target.namespace, kubeconfig and kube_context through the
// config engine, so templates and MIRRORD_* overrides apply as for any
// other command. Without a file, only the overrides apply.
func lsConfig(ctx context.Context, path string, env func(string) (string, bool)) (lsSettings, error) {
	if path == "" {
		if p, ok := env("MIRRORD_CONFIG_FILE"); ok && p != "" {
			path = p
		}
	}
	text, name := []byte("{}"), "mirrord.json"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return lsSettings{}, fmt.Errorf("read config: %w", err)
		}
		text, name = b, path
	}
	res := schema.Verify(ctx, text, schema.Options{Path: name, Env: env, IDE: true})
	if res.HasErrors() {
		var msgs []string
		for _, d := range res.Errors() {
			msgs = append(msgs, fmt.Sprintf("%s:%d:%d: %s", name, d.Range.Start.Line+1, d.Range.Start.Column+1, d.Message))
		}
		return lsSettings{}, fmt.Errorf("invalid config:\n  %s", strings.Join(msgs, "\n  "))
	}
	var s lsSettings
	if c := res.Config; c != nil {
		if c.Target.Namespace != nil {
			s.namespace = *c.Target.Namespace
		}
		if c.Kubeconfig != nil {
			s.kubeconfig = *c.Kubeconfig
		}
		if c.KubeContext != nil {
			s.kubeContext = *c.KubeContext
		}
	}
	return s, nil
}

// lsKinds picks the target types: -t, else MIRRORD_LS_TARGET_TYPES, else
// pod, deployment and rollout.
func lsKinds(flags []string, env func(string) (string, bool)) ([]targetpath.Kind, error) {
	names := flags
	if len(names) == 0 {
		if v, ok := env("MIRRORD_LS_TARGET_TYPES"); ok && strings.TrimSpace(v) != "" {
			if err := json.Unmarshal([]byte(v), &names); err != nil {
				return nil, fmt.Errorf("MIRRORD_LS_TARGET_TYPES must be a JSON array of strings such as [\"pod\",\"deployment\"]: %w", err)
			}
		}
	}
	if len(names) == 0 {
		return listing.OpenSourceKinds, nil
	}
	var kinds []targetpath.Kind
	for _, n := range names {
		k := targetpath.Kind(strings.ToLower(strings.TrimSpace(n)))
		if k == "deploy" {
			k = targetpath.Deployment
		}
		if !listing.Listable(k) {
			var valid []string
			for _, l := range listing.Kinds {
				valid = append(valid, string(l))
			}
			return nil, fmt.Errorf("unknown target type %q; listable types: %s", n, strings.Join(valid, ", "))
		}
		if !containsKind(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

func containsKind(ks []targetpath.Kind, k targetpath.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func runLs(ctx context.Context, f lsFlags, env func(string) (string, bool), stdout, stderr io.Writer) error {
	if f.output != "json" && f.output != "table" {
		return fmt.Errorf("unknown output format %q: use json or table", f.output)
	}
	kinds, err := lsKinds(f.targetTypes, env)
	if err != nil {
		return err
	}
	settings, err := lsConfig(ctx, f.configFile, env)
	if err != nil {
		return err
	}
	cfg, err := kubeconfig.Load(kubeconfig.Options{
		Kubeconfig: settings.kubeconfig, Context: settings.kubeContext, LookupEnv: env,
	})
	if err != nil {
		return err
	}
	ns := f.namespace
	if ns == "" {
		ns = settings.namespace
	}
	if ns == "" {
		ns = cfg.Namespace
	}
	client, err := kubernetes.NewForConfig(cfg.REST)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg.REST)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	l := &listing.Lister{Client: client, Dynamic: dyn}
	targets, err := l.Targets(ctx, ns, kinds)
	if err != nil {
		return err
	}
	targets = listing.OnlyAvailable(targets)

	rich := false
	if v, ok := env("MIRRORD_LS_RICH_OUTPUT"); ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		rich = true
	}
	var namespaces, warnings []string
	if rich || f.output == "table" {
		namespaces, warnings, err = l.Namespaces(ctx, ns)
		if err != nil {
			return err
		}
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	switch {
	case f.output == "table":
		return lsTable(stdout, targets, ns, namespaces)
	case rich:
		return json.NewEncoder(stdout).Encode(richListing(targets, ns, namespaces))
	default:
		paths := make([]string, len(targets))
		for i, t := range targets {
			paths[i] = t.Path
		}
		return json.NewEncoder(stdout).Encode(paths)
	}
}

// richTarget is one target of the rich output, as IDE extensions read it.
type richTarget struct {
	Path      string `json:"path"`
	Available bool   `json:"available"`
}

type richOutput struct {
	Targets          []richTarget `json:"targets"`
	CurrentNamespace string       `json:"current_namespace"`
	Namespaces       []string     `json:"namespaces"`
}

func richListing(ts []listing.Target, current string, namespaces []string) richOutput {
	out := richOutput{Targets: make([]richTarget, len(ts)), CurrentNamespace: current, Namespaces: namespaces}
	for i, t := range ts {
		out.Targets[i] = richTarget{Path: t.Path, Available: t.Available}
	}
	if out.Namespaces == nil {
		out.Namespaces = []string{}
	}
	return out
}

func lsTable(w io.Writer, ts []listing.Target, current string, namespaces []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tKIND\tCONTAINERS")
	for _, t := range ts {
		containers := strings.Join(t.Containers, ",")
		if containers == "" {
			containers = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Path, t.Kind, containers)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nnamespace: %s (namespaces: %s)\n", current, strings.Join(namespaces, ", "))
	return err
}
