package listing

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
)

// RolloutResource is Argo Rollouts' resource.
var RolloutResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// PageSize is the page size of every LIST, as mirrord uses.
const PageSize = 500

// Lister lists targets with one paginated LIST per kind (no cache): the
// right tool for a one-shot command such as `mirrord ls`.
type Lister struct {
	Client kubernetes.Interface
	// Dynamic lists Argo Rollouts; nil leaves rollouts out.
	Dynamic dynamic.Interface
	// PageSize overrides the page size (default PageSize).
	PageSize int64
	// Rollouts overrides the Rollout resource (default RolloutResource).
	Rollouts schema.GroupVersionResource
}

func (l *Lister) rollouts() schema.GroupVersionResource {
	if l.Rollouts.Resource != "" {
		return l.Rollouts
	}
	return RolloutResource
}

func (l *Lister) pageSize() int64 {
	if l.PageSize > 0 {
		return l.PageSize
	}
	return PageSize
}

// Targets lists the targets of the given kinds in a namespace, sorted, all
// kinds concurrently. Unavailable targets are included (see OnlyAvailable).
// A missing Rollout CRD is not an error: rollouts are then simply absent.
func (l *Lister) Targets(ctx context.Context, namespace string, kinds []targetpath.Kind) ([]Target, error) {
	for _, k := range kinds {
		if !Listable(k) {
			return nil, fmt.Errorf("target type %q cannot be listed; listable types: %v", k, Kinds)
		}
	}
	var (
		mu   sync.Mutex
		all  []Target
		errs = make([]error, len(kinds))
		wg   sync.WaitGroup
	)
	for i, k := range kinds {
		wg.Go(func() {
			ts, err := l.kind(ctx, namespace, k)
			if err != nil {
				errs[i] = fmt.Errorf("list %ss in namespace %q: %w", k, namespace, err)
				return
			}
			mu.Lock()
			all = append(all, ts...)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	Sort(all)
	return all, nil
}

// pages runs one paginated LIST: list is called with each page's options and
// returns the continue token.
func (l *Lister) pages(ctx context.Context, opts metav1.ListOptions, list func(metav1.ListOptions) (string, error)) error {
	opts.Limit = l.pageSize()
	opts.LabelSelector = ExcludeSelector
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := list(opts)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}

func (l *Lister) kind(ctx context.Context, ns string, k targetpath.Kind) ([]Target, error) {
	var out []Target
	var err error
	switch k {
	case targetpath.Pod:
		err = l.pages(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, PodTargets(&page.Items[i])...)
			}
			return page.Continue, nil
		})
	case targetpath.Deployment:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.AppsV1().Deployments(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, DeploymentTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.StatefulSet:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.AppsV1().StatefulSets(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, StatefulSetTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.ReplicaSet:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.AppsV1().ReplicaSets(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, ReplicaSetTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.Job:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.BatchV1().Jobs(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, JobTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.CronJob:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.BatchV1().CronJobs(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, CronJobTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.Service:
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Client.CoreV1().Services(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, ServiceTarget(&page.Items[i]))
			}
			return page.Continue, nil
		})
	case targetpath.Rollout:
		if l.Dynamic == nil {
			return nil, nil
		}
		err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
			page, err := l.Dynamic.Resource(l.rollouts()).Namespace(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				out = append(out, RolloutTarget(&page.Items[i]))
			}
			return page.GetContinue(), nil
		})
		if apierrors.IsNotFound(err) {
			// No Rollout CRD in this cluster.
			return nil, nil
		}
	}
	return out, err
}

// Namespaces lists every namespace, sorted. When listing namespaces is
// forbidden it returns just current, with a warning.
func (l *Lister) Namespaces(ctx context.Context, current string) (names []string, warnings []string, err error) {
	err = l.pages(ctx, metav1.ListOptions{}, func(o metav1.ListOptions) (string, error) {
		o.LabelSelector = ""
		page, err := l.Client.CoreV1().Namespaces().List(ctx, o)
		if err != nil {
			return "", err
		}
		for _, n := range page.Items {
			names = append(names, n.Name)
		}
		return page.Continue, nil
	})
	if apierrors.IsForbidden(err) {
		return []string{current}, []string{NamespacesForbiddenWarning(current)}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list namespaces: %w", err)
	}
	sort.Strings(names)
	return slices.Compact(names), nil, nil
}

// NamespacesForbiddenWarning explains the fallback to the current namespace.
func NamespacesForbiddenWarning(current string) string {
	return fmt.Sprintf("not allowed to list namespaces; showing only the current namespace %q", current)
}
