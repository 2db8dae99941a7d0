// Package catalog is the watch-backed target cache of the language server:
// it answers "what can I target" from memory in milliseconds and stays
// current as pods come and go.
//
// One cluster entry is kept per (kubeconfig files, context); inside it, one
// informer per namespace and resource kind, started on first use, with
// objects trimmed by a transform to what listing needs. Namespaces not asked
// about for Options.IdleTimeout are released (informers stopped, memory
// dropped). Where watching is forbidden the catalog falls back to LIST on
// demand; where listing is forbidden the kind is skipped with a warning;
// where listing namespaces is forbidden only the current one is reported.
// A missing Argo Rollouts CRD just means no rollouts.
//
// The catalog and `mirrord ls` share package listing, so paths,
// availability and containers are the same in both.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
)

// Query selects what to list.
type Query struct {
	// Kubeconfig is an explicit kubeconfig file (mirrord's `kubeconfig`
	// field); "" means KUBECONFIG or ~/.kube/config.
	Kubeconfig string
	// Context is the kube context (mirrord's `kube_context`); "" means the
	// current context.
	Context string
	// Namespace to list; "" means the context's namespace.
	Namespace string
	// Kinds to list; nil means listing.OpenSourceKinds.
	Kinds []targetpath.Kind
	// IncludeUnavailable also returns targets that cannot be used now
	// (Available=false), e.g. for hover and diagnostics.
	IncludeUnavailable bool
}

// Options configure a Catalog.
type Options struct {
	// IdleTimeout releases a namespace's informers when it has not been
	// listed for this long (default 10 minutes).
	IdleTimeout time.Duration
	// LookupEnv reads KUBECONFIG and HOME; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Rollouts overrides the Argo Rollout resource (default
	// listing.RolloutResource).
	Rollouts schema.GroupVersionResource
	// RolloutCheck is how long the presence of the Rollout CRD is
	// remembered (default 30 seconds).
	RolloutCheck time.Duration
}

// Catalog is safe for concurrent use. Close releases everything.
type Catalog struct {
	opts     Options
	mu       sync.Mutex
	clusters map[string]*cluster
	closed   bool
	done     chan struct{}
	janitor  sync.WaitGroup
}

// New returns an empty catalog; nothing connects until the first query.
func New(opts Options) *Catalog {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.Rollouts.Resource == "" {
		opts.Rollouts = listing.RolloutResource
	}
	if opts.RolloutCheck <= 0 {
		opts.RolloutCheck = 30 * time.Second
	}
	c := &Catalog{opts: opts, clusters: map[string]*cluster{}, done: make(chan struct{})}
	c.janitor.Go(c.releaseIdle)
	return c
}

// Close stops every informer.
func (c *Catalog) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	clusters := c.clusters
	c.clusters = map[string]*cluster{}
	c.mu.Unlock()
	c.janitor.Wait()
	for _, cl := range clusters {
		cl.release(time.Time{})
	}
}

// releaseIdle periodically releases namespaces idle for IdleTimeout.
func (c *Catalog) releaseIdle() {
	tick := time.NewTicker(max(c.opts.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		clusters := make([]*cluster, 0, len(c.clusters))
		for _, cl := range c.clusters {
			clusters = append(clusters, cl)
		}
		c.mu.Unlock()
		cutoff := time.Now().Add(-c.opts.IdleTimeout)
		for _, cl := range clusters {
			cl.release(cutoff)
		}
	}
}

// ErrClosed is returned by queries on a closed catalog.
var ErrClosed = errors.New("target catalog is closed")

// cluster returns (creating on first use) the entry of a kubeconfig context.
func (c *Catalog) cluster(q Query) (*cluster, error) {
	ko := kubeconfig.Options{Kubeconfig: q.Kubeconfig, Context: q.Context, LookupEnv: c.opts.LookupEnv}
	key := ko.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cl, ok := c.clusters[key]; ok {
		return cl, nil
	}
	cfg, err := kubeconfig.Load(ko)
	if err != nil {
		return nil, err
	}
	typed, err := kubernetes.NewForConfig(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("client for context %q: %w", cfg.Context, err)
	}
	dyn, err := dynamic.NewForConfig(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for context %q: %w", cfg.Context, err)
	}
	cl := &cluster{
		cfg:          cfg,
		c:            &clients{typed: typed, dynamic: dyn, rollouts: c.opts.Rollouts},
		namespaces:   map[string]*namespaceCache{},
		rolloutCheck: c.opts.RolloutCheck,
	}
	c.clusters[key] = cl
	return cl, nil
}

// ListTargets lists targets of a namespace from the cache, starting its
// informers on first use (the first call waits for their initial sync,
// bounded by ctx).
func (c *Catalog) ListTargets(ctx context.Context, q Query) (listing.Listing, error) {
	cl, err := c.cluster(q)
	if err != nil {
		return listing.Listing{}, err
	}
	kinds := listing.OpenSourceKinds
	if q.Kinds != nil {
		// In listing order, so concatenating the (sorted) kinds is sorted.
		kinds = slices.DeleteFunc(slices.Clone(listing.Kinds), func(k targetpath.Kind) bool { return !slices.Contains(q.Kinds, k) })
	}
	for _, k := range q.Kinds {
		if !listing.Listable(k) {
			return listing.Listing{}, fmt.Errorf("target type %q cannot be listed; listable types: %v", k, listing.Kinds)
		}
	}
	ns := q.Namespace
	if ns == "" {
		ns = cl.cfg.Namespace
	}
	out := listing.Listing{CurrentNamespace: ns, Targets: []listing.Target{}}

	var (
		wg       sync.WaitGroup
		nsNames  []string
		nsWarn   []string
		nsErr    error
		perKind  = make([][]listing.Target, len(kinds))
		kindWarn = make([]string, len(kinds))
		kindErr  = make([]error, len(kinds))
	)
	wg.Go(func() { nsNames, nsWarn, nsErr = cl.namespaceNames(ctx, ns) })
	nc := cl.namespace(ns)
	for i, k := range kinds {
		wg.Go(func() { perKind[i], kindWarn[i], kindErr[i] = cl.targets(ctx, nc, k) })
	}
	wg.Wait()
	if nsErr != nil {
		return listing.Listing{}, nsErr
	}
	out.Namespaces = nsNames
	out.Warnings = append(out.Warnings, nsWarn...)
	n := 0
	for _, ts := range perKind {
		n += len(ts)
	}
	out.Targets = make([]listing.Target, 0, n)
	for i := range kinds {
		if kindErr[i] != nil {
			return listing.Listing{}, kindErr[i]
		}
		if kindWarn[i] != "" {
			out.Warnings = append(out.Warnings, kindWarn[i])
		}
		out.Targets = append(out.Targets, perKind[i]...) // copies: perKind is shared
	}
	if !q.IncludeUnavailable {
		out.Targets = listing.OnlyAvailable(out.Targets)
	}
	return out, nil
}

// Namespaces returns every namespace (or only the current one, with a
// warning, when listing namespaces is forbidden) and the current namespace.
func (c *Catalog) Namespaces(ctx context.Context, q Query) (names []string, current string, warnings []string, err error) {
	cl, err := c.cluster(q)
	if err != nil {
		return nil, "", nil, err
	}
	current = q.Namespace
	if current == "" {
		current = cl.cfg.Namespace
	}
	names, warnings, err = cl.namespaceNames(ctx, current)
	return names, current, warnings, err
}

// cluster is the cache of one kubeconfig context.
type cluster struct {
	cfg *kubeconfig.Config
	c   *clients

	mu         sync.Mutex
	namespaces map[string]*namespaceCache
	nsSource   *source
	nsUsed     time.Time

	rolloutCheck  time.Duration
	rolloutAt     time.Time
	rolloutExists bool
}

// namespaceCache holds the sources of one namespace.
type namespaceCache struct {
	name     string
	mu       sync.Mutex
	sources  map[targetpath.Kind]*source
	lastUsed time.Time
	released bool
}

func (cl *cluster) namespace(ns string) *namespaceCache {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	nc, ok := cl.namespaces[ns]
	if !ok {
		nc = &namespaceCache{name: ns, sources: map[targetpath.Kind]*source{}}
		cl.namespaces[ns] = nc
	}
	nc.mu.Lock()
	nc.lastUsed = time.Now()
	nc.mu.Unlock()
	return nc
}

// release stops the namespaces (and the namespace list) unused since cutoff;
// the zero cutoff releases everything.
func (cl *cluster) release(cutoff time.Time) {
	cl.mu.Lock()
	var idle []*namespaceCache
	for name, nc := range cl.namespaces {
		nc.mu.Lock()
		if cutoff.IsZero() || nc.lastUsed.Before(cutoff) {
			idle = append(idle, nc)
			delete(cl.namespaces, name)
		}
		nc.mu.Unlock()
	}
	var nsSource *source
	if cl.nsSource != nil && (cutoff.IsZero() || cl.nsUsed.Before(cutoff)) {
		nsSource, cl.nsSource = cl.nsSource, nil
	}
	cl.mu.Unlock()
	for _, nc := range idle {
		nc.mu.Lock()
		nc.released = true
		for _, s := range nc.sources {
			s.close()
		}
		nc.mu.Unlock()
	}
	if nsSource != nil {
		nsSource.close()
	}
}

// rolloutsInstalled reports whether the Rollout CRD is served, remembering
// the answer for rolloutCheck.
func (cl *cluster) rolloutsInstalled() (bool, error) {
	cl.mu.Lock()
	if !cl.rolloutAt.IsZero() && time.Since(cl.rolloutAt) < cl.rolloutCheck {
		ok := cl.rolloutExists
		cl.mu.Unlock()
		return ok, nil
	}
	cl.mu.Unlock()
	exists := false
	gvr := cl.c.rollouts
	res, err := cl.c.typed.Discovery().ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("discover %s: %w", gvr.GroupVersion(), err)
	default:
		exists = slices.ContainsFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == gvr.Resource })
	}
	cl.mu.Lock()
	cl.rolloutAt, cl.rolloutExists = time.Now(), exists
	cl.mu.Unlock()
	return exists, nil
}

// targets lists one kind of one namespace from its source.
func (cl *cluster) targets(ctx context.Context, nc *namespaceCache, k targetpath.Kind) ([]listing.Target, string, error) {
	var out []listing.Target
	warning, err := cl.withSource(ctx, nc, k, func(s *source) (err error) {
		out, err = s.targets(ctx)
		return err
	})
	return out, warning, err
}

// cached returns the objects of one kind of one namespace.
func (cl *cluster) cached(ctx context.Context, nc *namespaceCache, k targetpath.Kind) ([]any, string, error) {
	var objs []any
	warning, err := cl.withSource(ctx, nc, k, func(s *source) (err error) {
		objs, _, err = s.objects(ctx)
		return err
	})
	return objs, warning, err
}

// withSource runs fn on the source of one kind of one namespace, starting
// it on first use. Kinds the user may not list give a warning instead;
// rollouts without the CRD give nothing.
func (cl *cluster) withSource(ctx context.Context, nc *namespaceCache, k targetpath.Kind, fn func(*source) error) (string, error) {
	if k == targetpath.Rollout {
		ok, err := cl.rolloutsInstalled()
		if err != nil || !ok {
			return "", err
		}
	}
	var err error
	// A source released by the idle janitor in the meantime is replaced.
	for range 3 {
		nc.mu.Lock()
		if nc.released {
			nc.mu.Unlock()
			nc = cl.namespace(nc.name)
			continue
		}
		s, ok := nc.sources[k]
		if !ok {
			s = newSource(kinds[k], nc.name, cl.c, modeWatch)
			nc.sources[k] = s
		}
		nc.mu.Unlock()
		if err = fn(s); !errors.Is(err, errReleased) {
			break
		}
		nc = cl.namespace(nc.name)
	}
	if errors.Is(err, errForbidden) {
		return fmt.Sprintf("not allowed to list %s in namespace %q", kinds[k].resource, nc.name), nil
	}
	return "", err
}

// namespaceNames lists namespaces from a cluster-wide informer, or returns
// only current with a warning when that is forbidden.
func (cl *cluster) namespaceNames(ctx context.Context, current string) ([]string, []string, error) {
	var (
		objs []any
		err  error
	)
	for range 3 {
		cl.mu.Lock()
		if cl.nsSource == nil {
			cl.nsSource = newSource(namespaceKind, "", cl.c, modeWatch)
		}
		s := cl.nsSource
		cl.nsUsed = time.Now()
		cl.mu.Unlock()
		if objs, _, err = s.objects(ctx); !errors.Is(err, errReleased) {
			break
		}
	}
	if errors.Is(err, errForbidden) {
		return []string{current}, []string{listing.NamespacesForbiddenWarning(current)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.(*corev1.Namespace).Name)
	}
	sort.Strings(names)
	return names, nil, nil
}

// cachedNamespaces counts the namespaces with live caches (for tests).
func (c *Catalog) cachedNamespaces() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, cl := range c.clusters {
		cl.mu.Lock()
		n += len(cl.namespaces)
		cl.mu.Unlock()
	}
	return n
}
