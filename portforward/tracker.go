package portforward

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
)

// Tracker finds the pod of a target and notices when that pod goes away.
type Tracker interface {
	// Target is the target as the user wrote it, for messages.
	Target() string
	// Follows reports whether the target outlives its pods (a workload:
	// a new pod is looked for when the current one goes) or not (a pod).
	Follows() bool
	// Resolve returns the pod to attach to now.
	Resolve(ctx context.Context) (*resolve.Result, error)
	// WaitGone blocks until pod is deleted, replaced (same name, new UID),
	// terminating or no longer running, and says why; or until ctx ends
	// (then it returns ctx's error).
	WaitGone(ctx context.Context, pod *resolve.Result) (string, error)
}

// KubeTracker tracks a target through the Kubernetes API: resolution with
// kube/resolve, and a watch on the chosen pod.
type KubeTracker struct {
	Client    kubernetes.Interface
	Resolver  *resolve.Resolver
	Namespace string
	Path      targetpath.Target
}

// Target is the target path.
func (k *KubeTracker) Target() string { return k.Path.String() }

// Follows is true for every target that is not a single pod.
func (k *KubeTracker) Follows() bool { return k.Path.Kind != targetpath.Pod }

// Resolve resolves the target to its first eligible pod.
func (k *KubeTracker) Resolve(ctx context.Context) (*resolve.Result, error) {
	return k.Resolver.Resolve(ctx, k.Namespace, k.Path)
}

// WaitGone watches the pod (a field-selected watch, resumed after the
// watch ends, re-read when the resource version is too old).
func (k *KubeTracker) WaitGone(ctx context.Context, res *resolve.Result) (string, error) {
	pods := k.Client.CoreV1().Pods(res.Pod.Namespace)
	name, uid := res.Pod.Name, res.Pod.UID
	rv := res.Pod.ResourceVersion
	check := func(p *corev1.Pod) string {
		switch {
		case p.UID != uid:
			return fmt.Sprintf("pod %s was replaced", name)
		case p.DeletionTimestamp != nil:
			return fmt.Sprintf("pod %s is terminating", name)
		}
		if reason := podselect.NotRunningReason(p); reason != "" {
			return fmt.Sprintf("pod %s %s", name, reason)
		}
		return ""
	}
	backoff := 100 * time.Millisecond
	for {
		if rv == "" {
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return fmt.Sprintf("pod %s was deleted", name), nil
			case err != nil:
				if ctx.Err() != nil {
					return "", ctx.Err()
				}
				if !sleepCtx(ctx, backoff) {
					return "", ctx.Err()
				}
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
			if why := check(p); why != "" {
				return why, nil
			}
			rv = p.ResourceVersion
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:       fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion:     rv,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			rv = ""
			if !sleepCtx(ctx, backoff) {
				return "", ctx.Err()
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		why, next, err := k.drain(ctx, w, check, name)
		w.Stop()
		if why != "" || err != nil {
			return why, err
		}
		rv = next
		backoff = 100 * time.Millisecond
	}
}

// drain reads watch events until the pod goes (a reason), the watch ends
// (the resource version to resume from; "" to re-read) or ctx ends.
func (k *KubeTracker) drain(ctx context.Context, w watch.Interface, check func(*corev1.Pod) string, name string) (string, string, error) {
	rv := ""
	for {
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", rv, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return fmt.Sprintf("pod %s was deleted", name), "", nil
			case watch.Error:
				// Typically 410 Gone: re-read the pod and start over.
				return "", "", nil
			case watch.Added, watch.Modified, watch.Bookmark:
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				if ev.Type == watch.Bookmark {
					continue
				}
				if why := check(p); why != "" {
					return why, "", nil
				}
			}
		}
	}
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrTargetGone ends a run whose pod target went away (a pod target is not
// followed to another pod).
var ErrTargetGone = errors.New("target pod is gone")
