package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/pager"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
)

// resourceKind describes one watched resource: how to list and watch it and
// how its objects become listing entries.
type resourceKind struct {
	group, resource string
	example         runtime.Object
	lw              func(c *clients, ns string) *cache.ListWatch
	targets         func(obj any) []listing.Target
}

// clients are the API clients of one context.
type clients struct {
	typed    kubernetes.Interface
	dynamic  dynamic.Interface
	rollouts schema.GroupVersionResource
}

func excludeMirrord(o *metav1.ListOptions) { o.LabelSelector = listing.ExcludeSelector }

func one(t listing.Target) []listing.Target { return []listing.Target{t} }

// namespaceKind is the cluster-scoped Namespace resource.
var namespaceKind = resourceKind{
	resource: "namespaces", example: &corev1.Namespace{},
	lw: func(c *clients, _ string) *cache.ListWatch {
		return cache.NewFilteredListWatchFromClient(c.typed.CoreV1().RESTClient(), "namespaces", "", func(*metav1.ListOptions) {})
	},
}

var kinds = map[targetpath.Kind]resourceKind{
	targetpath.Pod: {resource: "pods", example: &corev1.Pod{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.CoreV1().RESTClient(), "pods", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return listing.PodTargets(o.(*corev1.Pod)) }},
	targetpath.Deployment: {group: "apps", resource: "deployments", example: &appsv1.Deployment{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.AppsV1().RESTClient(), "deployments", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.DeploymentTarget(o.(*appsv1.Deployment))) }},
	targetpath.StatefulSet: {group: "apps", resource: "statefulsets", example: &appsv1.StatefulSet{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.AppsV1().RESTClient(), "statefulsets", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.StatefulSetTarget(o.(*appsv1.StatefulSet))) }},
	targetpath.ReplicaSet: {group: "apps", resource: "replicasets", example: &appsv1.ReplicaSet{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.AppsV1().RESTClient(), "replicasets", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.ReplicaSetTarget(o.(*appsv1.ReplicaSet))) }},
	targetpath.Job: {group: "batch", resource: "jobs", example: &batchv1.Job{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.BatchV1().RESTClient(), "jobs", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.JobTarget(o.(*batchv1.Job))) }},
	targetpath.CronJob: {group: "batch", resource: "cronjobs", example: &batchv1.CronJob{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.BatchV1().RESTClient(), "cronjobs", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.CronJobTarget(o.(*batchv1.CronJob))) }},
	targetpath.Service: {resource: "services", example: &corev1.Service{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			return cache.NewFilteredListWatchFromClient(c.typed.CoreV1().RESTClient(), "services", ns, excludeMirrord)
		},
		targets: func(o any) []listing.Target { return one(listing.ServiceTarget(o.(*corev1.Service))) }},
	targetpath.Rollout: {group: "argoproj.io", resource: "rollouts", example: &unstructured.Unstructured{},
		lw: func(c *clients, ns string) *cache.ListWatch {
			ri := c.dynamic.Resource(c.rollouts).Namespace(ns)
			return &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					excludeMirrord(&o)
					return ri.List(ctx, o)
				},
				WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					excludeMirrord(&o)
					return ri.Watch(ctx, o)
				},
			}
		},
		targets: func(o any) []listing.Target { return one(listing.RolloutTarget(o.(*unstructured.Unstructured))) }},
}

// mode is how a source gets its objects.
type mode int

const (
	modeWatch     mode = iota // an informer keeps a local copy current
	modeList                  // watch is forbidden: LIST on demand, briefly cached
	modeForbidden             // list is forbidden too
)

// listTTL is how long a LIST fallback result is reused.
const listTTL = 2 * time.Second

// source holds the objects of one resource in one namespace (or cluster-wide).
type source struct {
	kind resourceKind
	ns   string
	c    *clients

	mu       sync.Mutex
	mode     mode
	informer cache.SharedIndexInformer
	stop     context.CancelFunc
	// watchFailed is closed when the informer hit Forbidden.
	watchFailed chan struct{}
	listed      []any
	listedAt    time.Time
	// lastErr is the informer's last list/watch error, reported when a
	// caller gives up waiting for the first sync (e.g. cluster unreachable).
	lastErr error
	// gen counts informer events; tcache holds the targets computed at
	// generation tgen.
	gen    atomic.Uint64
	tcache []listing.Target
	tgen   uint64
	// closed is set when the catalog dropped the source; it then refuses to
	// start again (callers fetch a fresh source).
	closed bool
	// forbiddenAt is when LIST was last refused; it is retried after
	// forbiddenRetry in case permissions changed.
	forbiddenAt time.Time
}

// forbiddenRetry is how long a refused LIST is remembered.
const forbiddenRetry = 30 * time.Second

func newSource(kind resourceKind, ns string, c *clients, m mode) *source {
	return &source{kind: kind, ns: ns, c: c, mode: m}
}

// objects returns the current objects, starting the informer on first use and
// waiting (within ctx) for its first sync.
func (s *source) objects(ctx context.Context) (objs []any, live bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, errReleased
	}
	switch s.mode {
	case modeForbidden:
		if time.Since(s.forbiddenAt) < forbiddenRetry {
			s.mu.Unlock()
			return nil, false, errForbidden
		}
		s.mu.Unlock()
		objs, err = s.listFallback(ctx)
		return objs, false, err
	case modeList:
		s.mu.Unlock()
		objs, err = s.listFallback(ctx)
		return objs, false, err
	}
	if s.informer == nil {
		s.startLocked()
	}
	inf, failed := s.informer, s.watchFailed
	s.mu.Unlock()
	if inf.HasSynced() {
		return inf.GetStore().List(), true, nil
	}
	// While the informer syncs, a one-item LIST tells at once whether the
	// API answers at all (the informer itself retries quietly) and whether
	// listing is allowed.
	probe := make(chan error, 1)
	go func() { probe <- s.list(ctx, metav1.ListOptions{Limit: 1}) }()
	for {
		select {
		case <-inf.HasSyncedChecker().Done():
			return inf.GetStore().List(), true, nil
		case <-failed:
			objs, err = s.listFallback(ctx)
			return objs, false, err
		case err := <-probe:
			probe = nil
			switch {
			case err == nil:
			case apierrors.IsForbidden(err):
				s.release()
				s.mu.Lock()
				s.mode, s.forbiddenAt = modeForbidden, time.Now()
				s.mu.Unlock()
				return nil, false, errForbidden
			case ctx.Err() == nil:
				return nil, false, fmt.Errorf("list %s in %s: %w", s.kind.resource, s.where(), err)
			}
		case <-ctx.Done():
			s.mu.Lock()
			last := s.lastErr
			s.mu.Unlock()
			if last != nil {
				return nil, false, fmt.Errorf("listing %s in %s: %w (last error: %v)", s.kind.resource, s.where(), ctx.Err(), last)
			}
			return nil, false, fmt.Errorf("listing %s in %s: %w", s.kind.resource, s.where(), ctx.Err())
		}
	}
}

// targets returns the listing entries of the source, sorted by path. For a
// live informer they are computed once per change: event handlers bump
// gen, and a cached result is valid while gen has not moved since it was
// computed. The returned slice is shared: callers must not modify it.
func (s *source) targets(ctx context.Context) ([]listing.Target, error) {
	g := s.gen.Load()
	s.mu.Lock()
	if s.tcache != nil && s.tgen == g {
		out := s.tcache
		s.mu.Unlock()
		return out, nil
	}
	s.mu.Unlock()
	objs, live, err := s.objects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]listing.Target, 0, len(objs))
	for _, o := range objs {
		out = append(out, s.kind.targets(o)...)
	}
	slices.SortFunc(out, func(a, b listing.Target) int { return strings.Compare(a.Path, b.Path) })
	if live {
		s.mu.Lock()
		s.tcache, s.tgen = out, g
		s.mu.Unlock()
	}
	return out, nil
}

func (s *source) where() string {
	if s.ns == "" {
		return "the cluster"
	}
	return fmt.Sprintf("namespace %q", s.ns)
}

// list runs one LIST request and drops the result.
func (s *source) list(ctx context.Context, o metav1.ListOptions) error {
	_, err := s.kind.lw(s.c, s.ns).ListWithContext(ctx, o)
	return err
}

var (
	errForbidden = errors.New("forbidden")
	errReleased  = errors.New("released")
)

func (s *source) startLocked() {
	inf := cache.NewSharedIndexInformerWithOptions(s.kind.lw(s.c, s.ns), s.kind.example, cache.SharedIndexInformerOptions{})
	_ = inf.SetTransform(transform)
	bump := func() { s.gen.Add(1) }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { bump() },
		UpdateFunc: func(any, any) { bump() },
		DeleteFunc: func(any) { bump() },
	})
	s.watchFailed = make(chan struct{})
	failed := s.watchFailed
	var once sync.Once
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			once.Do(func() {
				s.mu.Lock()
				if s.mode == modeWatch {
					s.mode = modeList
				}
				s.mu.Unlock()
				close(failed)
				s.release()
			})
			return
		}
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.informer, s.stop = inf, cancel
	go inf.RunWithContext(ctx)
}

// close releases the source for good.
func (s *source) close() {
	s.release()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// release stops the informer and drops its objects.
func (s *source) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	s.informer, s.stop = nil, nil
	s.listed, s.tcache = nil, nil
}

// listFallback LISTs with pages of listing.PageSize, reusing a result for
// listTTL.
func (s *source) listFallback(ctx context.Context) ([]any, error) {
	s.mu.Lock()
	if s.listed != nil && time.Since(s.listedAt) < listTTL {
		out := s.listed
		s.mu.Unlock()
		return out, nil
	}
	s.mu.Unlock()
	lw := s.kind.lw(s.c, s.ns)
	p := pager.New(lw.ListWithContext)
	p.PageSize = listing.PageSize
	var out []any
	err := p.EachListItemWithAlloc(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		t, err := transform(obj)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if apierrors.IsForbidden(err) {
		s.mu.Lock()
		s.mode, s.forbiddenAt = modeForbidden, time.Now()
		s.mu.Unlock()
		return nil, errForbidden
	}
	if err != nil {
		return nil, fmt.Errorf("list %s in namespace %q: %w", s.kind.resource, s.ns, err)
	}
	if out == nil {
		out = []any{}
	}
	s.mu.Lock()
	s.listed, s.listedAt = out, time.Now()
	if s.mode == modeForbidden {
		s.mode = modeList // permissions were granted since
	}
	s.mu.Unlock()
	return out, nil
}
