// Package clusterserve is the cluster helper of the language server
// (`mirrord cluster-serve --stdio`): it answers the server's cluster
// questions (internal/clusterrpc) from one watch-backed target cache of
// package kube/catalog, so that mirrord-ls itself does not link client-go.
//
// Provider implements the server's TargetCatalog (mirrord/listTargets,
// target hovers, the missing-target check) and ClusterCompleter (targets,
// containers and namespaces while typing); Serve puts it on a JSON-RPC
// stream.
//
// Completion never waits on the cluster longer than a short budget: what
// is not known by then is left out and the answer is marked incomplete, so
// the editor asks again on the next keystroke, when the cache may be warm.
package clusterserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/clusterrpc"
	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/kube/catalog"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/kube/suggest"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/schema/configref"
)

// Options configure a Provider.
type Options struct {
	// CompletionBudget is how long a completion waits on the cluster
	// (default 300 ms).
	CompletionBudget time.Duration
	// SyncTimeout bounds mirrord/listTargets when the cache of a namespace
	// is cold (default 20 s).
	SyncTimeout time.Duration
	// LookupEnv reads the environment for config overrides and "~/"
	// (nil: none).
	LookupEnv func(string) (string, bool)
}

// Provider answers the server's cluster questions from a catalog.
type Provider struct {
	cat  *catalog.Catalog
	opts Options
}

// New returns a Provider over cat (which the caller closes).
func New(cat *catalog.Catalog, opts Options) *Provider {
	if opts.CompletionBudget <= 0 {
		opts.CompletionBudget = 300 * time.Millisecond
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 20 * time.Second
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = func(string) (string, bool) { return "", false }
	}
	return &Provider{cat: cat, opts: opts}
}

func query(c targets.ClusterRef) catalog.Query {
	return catalog.Query{Kubeconfig: c.Kubeconfig, Context: c.Context, Namespace: c.Namespace}
}

// parseKinds turns kind names (aliases included) into catalog kinds.
func parseKinds(names []string) ([]targetpath.Kind, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out := make([]targetpath.Kind, 0, len(names))
	for _, n := range names {
		t, err := targetpath.Parse(strings.ToLower(strings.TrimSpace(n)) + "/x")
		if err != nil || !listing.Listable(t.Kind) {
			return nil, fmt.Errorf("unknown target kind %q; listable kinds: %v", n, listing.Kinds)
		}
		if !slices.Contains(out, t.Kind) {
			out = append(out, t.Kind)
		}
	}
	return out, nil
}

// ListTargets answers mirrord/listTargets.
func (p *Provider) ListTargets(ctx context.Context, q targets.TargetQuery) (targets.TargetList, error) {
	kinds, err := parseKinds(q.Kinds)
	if err != nil {
		return targets.TargetList{}, err
	}
	cq := query(q.Cluster)
	cq.Kinds, cq.IncludeUnavailable = kinds, q.IncludeUnavailable
	sctx, cancel := context.WithTimeout(ctx, p.opts.SyncTimeout)
	defer cancel()
	l, err := p.listTargets(sctx, cq)
	if err != nil {
		if ctx.Err() != nil {
			return targets.TargetList{}, ctx.Err()
		}
		return targets.TargetList{}, p.explain(sctx, err)
	}
	out := targets.TargetList{
		Targets:          make([]targets.Target, 0, len(l.Targets)),
		CurrentNamespace: l.CurrentNamespace,
		Namespaces:       l.Namespaces,
		Warnings:         l.Warnings,
	}
	for _, t := range l.Targets {
		out.Targets = append(out.Targets, targets.Target{
			Path: t.Path, Kind: string(t.Kind), Name: t.Name, Namespace: t.Namespace,
			Available: t.Available, Containers: t.Containers,
		})
	}
	return out, nil
}

// explain words a failed cluster call: a cluster that does not answer is
// "unreachable", a cold cache that did not sync in time says so.
func (p *Provider) explain(ctx context.Context, err error) error {
	if Unreachable(err) {
		return fmt.Errorf("cluster unreachable: %w", err)
	}
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster unreachable: the target cache did not sync within %s: %w", p.opts.SyncTimeout, err)
	}
	return err
}

// Unreachable reports whether err is a failure to reach the API server
// (refused, reset, DNS, TLS handshake or a timeout of the transport).
func Unreachable(err error) bool {
	var (
		op  *net.OpError
		dns *net.DNSError
		ue  *url.Error
	)
	return errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &ue) && !errors.Is(err, context.Canceled))
}

// detached runs a catalog call and returns when it ends or ctx does. Some
// calls of client-go (discovery) do not take a context; they end on their
// own at the client's timeout, after the answer was given up.
func detached[T any](ctx context.Context, call func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (p *Provider) listTargets(ctx context.Context, q catalog.Query) (listing.Listing, error) {
	return detached(ctx, func() (listing.Listing, error) { return p.cat.ListTargets(ctx, q) })
}

func (p *Provider) describe(ctx context.Context, q catalog.Query, t targetpath.Target) (*catalog.Description, error) {
	return detached(ctx, func() (*catalog.Description, error) { return p.cat.Describe(ctx, q, t) })
}

// --- hover and check ---

// DescribeTarget renders the pods of a target as Markdown.
func (p *Provider) DescribeTarget(ctx context.Context, c targets.ClusterRef, path string) (string, error) {
	t, err := targetpath.Parse(path)
	if err != nil {
		return "", err
	}
	d, err := p.describe(ctx, query(c), t)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", p.explain(ctx, err)
	}
	return Markdown(d), nil
}

// CheckTarget reports a target (or its container) that does not exist,
// with the closest existing one.
func (p *Provider) CheckTarget(ctx context.Context, c targets.ClusterRef, path string) (targets.TargetCheck, error) {
	t, err := targetpath.Parse(path)
	if err != nil {
		return targets.TargetCheck{}, err
	}
	d, err := p.describe(ctx, query(c), t)
	var nf *resolve.NotFoundError
	switch {
	case errors.As(err, &nf):
		check := targets.TargetCheck{Missing: true, Message: nf.Error()}
		if nf.Suggestion != "" {
			s := t
			s.Name = nf.Suggestion
			check.Suggestion = s.String()
		}
		return check, nil
	case err != nil:
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return targets.TargetCheck{}, err
		}
		return targets.TargetCheck{}, p.explain(ctx, err)
	}
	if t.Container == "" || len(d.Pods) == 0 {
		return targets.TargetCheck{}, nil
	}
	var names []string
	for _, pod := range d.Pods {
		for _, ct := range pod.Containers {
			if ct.Name == t.Container {
				return targets.TargetCheck{}, nil
			}
			if !slices.Contains(names, ct.Name) {
				names = append(names, ct.Name)
			}
		}
	}
	check := targets.TargetCheck{Missing: true}
	check.Message = fmt.Sprintf("container %q not found in the pods of %s in namespace %q", t.Container, targetpath.Target{Kind: t.Kind, Name: t.Name}, d.Namespace)
	if s := suggest.Closest(t.Container, names); s != "" {
		check.Message += " (did you mean " + s + "?)"
		st := t
		st.Container = s
		check.Suggestion = st.String()
	}
	check.Message += "; containers there: " + suggest.List(names, 10)
	return check, nil
}

// Markdown renders a description for a hover.
func Markdown(d *catalog.Description) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** in namespace `%s`", d.Target, d.Namespace)
	if d.Selector != "" {
		fmt.Fprintf(&b, " (selector `%s`)", d.Selector)
	}
	b.WriteString("\n\n")
	if d.Chosen != "" {
		fmt.Fprintf(&b, "A session would use pod `%s`, container `%s`.\n\n", d.Chosen, d.ChosenContainer)
	} else if d.Problem != "" {
		fmt.Fprintf(&b, "No pod can be targeted now: %s.\n\n", d.Problem)
	}
	if len(d.Pods) > 0 {
		b.WriteString("| pod | phase | ready | node | IPs | containers |\n|---|---|---|---|---|---|\n")
		for _, pod := range d.Pods {
			var cs []string
			for _, c := range pod.Containers {
				s := c.Name
				if c.Sidecar {
					s += " (sidecar)"
				}
				if c.Ready {
					s += " ✓"
				} else {
					s += " ✗"
				}
				cs = append(cs, s)
			}
			ready := "no"
			if pod.Ready {
				ready = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", pod.Name, pod.Phase, ready, orDash(pod.Node), orDash(strings.Join(pod.IPs, ", ")), strings.Join(cs, ", "))
		}
		b.WriteString("\n")
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "- ⚠ %s\n", w)
	}
	return strings.TrimSpace(b.String())
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// --- completion ---

// CompleteCluster proposes target kinds, names and containers, and
// namespaces, from the cache within the completion budget.
func (p *Provider) CompleteCluster(ctx context.Context, q targets.ClusterQuery) (targets.ClusterAnswer, error) {
	ref := configref.FromText(ctx, q.Document, schema.Format(q.Format), q.Offset, p.opts.LookupEnv)
	cq := query(ref.Cluster(q.Path, p.opts.LookupEnv))
	bctx, cancel := context.WithTimeout(ctx, p.opts.CompletionBudget)
	defer cancel()
	var (
		ans targets.ClusterAnswer
		err error
	)
	switch {
	case q.Field == targets.FieldNamespace:
		ans, err = p.namespaces(bctx, cq)
	case q.Field == targets.FieldContainer:
		// The object form: {"deployment": "web", "container": "…"}.
		t, perr := targetpath.Parse(ref.Target)
		if perr != nil || ref.Target == "" {
			return targets.ClusterAnswer{}, nil
		}
		ans, err = p.containers(bctx, cq, t)
	case q.Kind != "":
		k, _ := targetpath.KindOfObjectKey(q.Kind)
		ans, err = p.names(bctx, cq, k, "")
	default:
		ans, err = p.targetPath(bctx, cq, q.Prefix)
	}
	if err != nil {
		if ctx.Err() != nil {
			return targets.ClusterAnswer{}, ctx.Err() // the request was cancelled
		}
		// Out of budget or unreachable: what is known, and ask again.
		ans.Incomplete = true
	}
	return ans, nil
}

// targetPath completes a string-form target path by stage: kinds, then
// names of the typed kind, then containers of the typed target.
func (p *Provider) targetPath(ctx context.Context, cq catalog.Query, prefix string) (targets.ClusterAnswer, error) {
	kindPart, rest, hasSlash := strings.Cut(prefix, "/")
	if !hasSlash {
		return kindValues(), nil
	}
	t, err := targetpath.Parse(kindPart + "/x")
	if err != nil || !listing.Listable(t.Kind) {
		return targets.ClusterAnswer{}, nil
	}
	name, _, hasName := strings.Cut(rest, "/")
	if !hasName {
		return p.names(ctx, cq, t.Kind, kindPart+"/")
	}
	t.Name = name
	a, err := p.containers(ctx, cq, t)
	for i := range a.Values {
		a.Values[i].Value = kindPart + "/" + name + "/container/" + a.Values[i].Value
	}
	return a, err
}

// kindValues are the first stage of a target path. The answer is
// incomplete: once a kind is chosen the names come from the cluster.
func kindValues() targets.ClusterAnswer {
	a := targets.ClusterAnswer{Incomplete: true}
	for _, k := range listing.Kinds {
		doc := ""
		if k.NeedsOperator() {
			doc = "Needs the mirrord operator with mirrord's own CLI; mirrord-ls resolves it itself."
		}
		a.Values = append(a.Values, targets.ClusterValue{Value: string(k) + "/", Detail: "target kind", Documentation: doc})
	}
	a.Values = append(a.Values, targets.ClusterValue{Value: string(targetpath.Targetless), Detail: "no target", Documentation: "Run without impersonating a pod: outgoing traffic and DNS go through the cluster."})
	return a
}

// names lists the targets of a kind (unavailable ones too, marked), each
// value prefixed by prefix.
func (p *Provider) names(ctx context.Context, cq catalog.Query, k targetpath.Kind, prefix string) (targets.ClusterAnswer, error) {
	cq.Kinds, cq.IncludeUnavailable = []targetpath.Kind{k}, true
	l, err := p.listTargets(ctx, cq)
	if err != nil {
		return targets.ClusterAnswer{}, err
	}
	var a targets.ClusterAnswer
	seen := map[string]int{}
	for _, t := range l.Targets {
		if i, ok := seen[t.Name]; ok {
			// A pod with several containers is listed once per container.
			for _, c := range t.Containers {
				if !strings.Contains(a.Values[i].Documentation, "`"+c+"`") {
					a.Values[i].Documentation += ", `" + c + "`"
				}
			}
			if t.Available {
				a.Values[i].Detail = string(k) + " in " + t.Namespace
			}
			continue
		}
		detail := string(k) + " in " + t.Namespace
		if !t.Available {
			detail += " (unavailable)"
		}
		doc := ""
		if len(t.Containers) > 0 {
			doc = "Containers: `" + strings.Join(t.Containers, "`, `") + "`"
		}
		seen[t.Name] = len(a.Values)
		a.Values = append(a.Values, targets.ClusterValue{Value: prefix + t.Name, Detail: detail, Documentation: doc})
	}
	return a, nil
}

// containers lists the containers of one target.
func (p *Provider) containers(ctx context.Context, cq catalog.Query, t targetpath.Target) (targets.ClusterAnswer, error) {
	cq.Kinds, cq.IncludeUnavailable = []targetpath.Kind{t.Kind}, true
	l, err := p.listTargets(ctx, cq)
	if err != nil {
		return targets.ClusterAnswer{}, err
	}
	var a targets.ClusterAnswer
	var seen []string
	for _, lt := range l.Targets {
		if lt.Name != t.Name {
			continue
		}
		for _, c := range lt.Containers {
			if !slices.Contains(seen, c) {
				seen = append(seen, c)
				a.Values = append(a.Values, targets.ClusterValue{Value: c, Detail: "container of " + string(t.Kind) + "/" + t.Name})
			}
		}
	}
	return a, nil
}

// namespaces lists the namespaces, the current one first.
func (p *Provider) namespaces(ctx context.Context, cq catalog.Query) (targets.ClusterAnswer, error) {
	type nsList struct {
		names   []string
		current string
	}
	l, err := detached(ctx, func() (nsList, error) {
		names, current, _, err := p.cat.Namespaces(ctx, cq)
		return nsList{names, current}, err
	})
	if err != nil {
		return targets.ClusterAnswer{}, err
	}
	names, current := l.names, l.current
	var a targets.ClusterAnswer
	for _, n := range names {
		detail := "namespace"
		if n == current {
			detail = "current namespace"
		}
		a.Values = append(a.Values, targets.ClusterValue{Value: n, Detail: detail})
	}
	return a, nil
}

// Namespaces lists the namespaces of a cluster and its current one.
func (p *Provider) Namespaces(ctx context.Context, c targets.ClusterRef) (clusterrpc.Namespaces, error) {
	sctx, cancel := context.WithTimeout(ctx, p.opts.SyncTimeout)
	defer cancel()
	l, err := detached(sctx, func() (clusterrpc.Namespaces, error) {
		names, current, warnings, err := p.cat.Namespaces(sctx, query(c))
		return clusterrpc.Namespaces{Names: names, Current: current, Warnings: warnings}, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return clusterrpc.Namespaces{}, ctx.Err()
		}
		return clusterrpc.Namespaces{}, p.explain(sctx, err)
	}
	if l.Names == nil {
		l.Names = []string{}
	}
	return l, nil
}
