// Package resolve turns a mirrord target (pod, deployment, rollout,
// statefulset, replicaset, job, cronjob, service or label selector) into
// the one pod and container the agent attaches to, following reference
// runtime.md §6.2: workloads lead to pods through their selectors, and the
// first pod in list order that is Running, not deleting, scheduled with an
// IP, and has a ready chosen container with a container id is used.
//
// Errors say what was looked for and what exists instead, with a "did you
// mean" for misspelled names and containers.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
	"github.com/mirrord-ls/mirrord-ls/kube/suggest"
)

// Resolver resolves targets with API calls (GET the workload, LIST its pods).
type Resolver struct {
	Client kubernetes.Interface
	// Dynamic reads Argo Rollouts; nil makes rollout targets an error.
	Dynamic dynamic.Interface
}

// Result is the pod and container a target resolved to.
type Result struct {
	Target    targetpath.Target
	Namespace string
	Pod       *corev1.Pod
	Container string
	// ContainerID is "<runtime>://<id>".
	ContainerID string
	NodeName    string
	PodIPs      []string
	// Pods is the number of pods the target's selector matched.
	Pods     int
	Warnings []string
}

// NotFoundError is a target whose object does not exist.
type NotFoundError struct {
	Kind      targetpath.Kind
	Name      string
	Namespace string
	// Existing names of that kind in the namespace (possibly truncated).
	Existing []string
	// Suggestion is the closest existing name, if any.
	Suggestion string
	// NamespaceMissing reports that the namespace itself does not exist.
	NamespaceMissing bool
}

func (e *NotFoundError) Error() string {
	if e.NamespaceMissing {
		return fmt.Sprintf("%s %q not found: namespace %q does not exist", e.Kind, e.Name, e.Namespace)
	}
	msg := fmt.Sprintf("%s %q not found in namespace %q", e.Kind, e.Name, e.Namespace)
	if e.Suggestion != "" {
		msg += " (did you mean " + e.Suggestion + "?)"
	}
	return msg + fmt.Sprintf("; %ss there: %s", e.Kind, suggest.List(e.Existing, 10))
}

// NoEligiblePodError is a target whose pods cannot be used (none running,
// none ready, no container id...).
type NoEligiblePodError struct {
	Target    targetpath.Target
	Namespace string
	Selector  string
	// Reasons, one per pod looked at (at most a few).
	Reasons []string
	Pods    int
}

func (e *NoEligiblePodError) Error() string {
	what := fmt.Sprintf("target %s in namespace %q", e.Target, e.Namespace)
	if e.Pods == 0 {
		if e.Selector != "" {
			return fmt.Sprintf("%s: no pods match selector %s", what, e.Selector)
		}
		return what + ": no pods"
	}
	return fmt.Sprintf("%s: none of its %d pod(s) can be targeted: %s", what, e.Pods, strings.Join(e.Reasons, "; "))
}

// maxReasons limits the per-pod reasons in an error.
const maxReasons = 5

// Resolve finds the pod and container of a target in a namespace.
func (r *Resolver) Resolve(ctx context.Context, namespace string, t targetpath.Target) (*Result, error) {
	if t.Kind == targetpath.Targetless {
		return nil, errors.New("targetless has no pod to resolve")
	}
	if t.Kind == targetpath.Pod {
		pod, err := r.Client.CoreV1().Pods(namespace).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, namespace, t, err)
		}
		if reason := podselect.NotRunningReason(pod); reason != "" {
			return nil, &NoEligiblePodError{Target: t, Namespace: namespace, Pods: 1,
				Reasons: []string{"pod " + pod.Name + " " + reason}}
		}
		choice, err := podselect.ChooseContainer(pod, t.Container)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t, err)
		}
		return result(t, namespace, pod, choice, 1), nil
	}
	sel, err := r.selector(ctx, namespace, t)
	if err != nil {
		return nil, err
	}
	return r.firstEligible(ctx, namespace, t, sel)
}

func result(t targetpath.Target, ns string, pod *corev1.Pod, ch podselect.Choice, pods int) *Result {
	res := &Result{Target: t, Namespace: ns, Pod: pod, Container: ch.Name, ContainerID: ch.ContainerID,
		NodeName: pod.Spec.NodeName, Pods: pods, Warnings: ch.Warnings}
	for _, ip := range pod.Status.PodIPs {
		res.PodIPs = append(res.PodIPs, ip.IP)
	}
	if len(res.PodIPs) == 0 && pod.Status.PodIP != "" {
		res.PodIPs = []string{pod.Status.PodIP}
	}
	return res
}

// firstEligible lists the pods of a selector and takes the first usable one.
func (r *Resolver) firstEligible(ctx context.Context, ns string, t targetpath.Target, sel labels.Selector) (*Result, error) {
	pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("target %s: list pods with selector %s in namespace %q: %w", t, sel, ns, err)
	}
	noPods := &NoEligiblePodError{Target: t, Namespace: ns, Selector: sel.String(), Pods: len(pods.Items)}
	var containerErr error
	for i := range pods.Items {
		pod := &pods.Items[i]
		reason := podselect.NotRunningReason(pod)
		if reason == "" {
			choice, err := podselect.ChooseContainer(pod, t.Container)
			if err == nil {
				res := result(t, ns, pod, choice, len(pods.Items))
				if len(pods.Items) > 1 {
					res.Warnings = append(res.Warnings, fmt.Sprintf(
						"%s has %d pods; only pod %s is impersonated", t, len(pods.Items), pod.Name))
				}
				return res, nil
			}
			if containerErr == nil {
				containerErr = err
			}
			reason = err.Error()
		} else {
			reason = "pod " + pod.Name + " " + reason
		}
		if len(noPods.Reasons) < maxReasons {
			noPods.Reasons = append(noPods.Reasons, reason)
		}
	}
	// A misspelled /container/ name is the same mistake in every pod: say it once.
	if containerErr != nil && t.Container != "" && strings.Contains(containerErr.Error(), "not found in pod") {
		return nil, fmt.Errorf("target %s: %w", t, containerErr)
	}
	return nil, noPods
}

// selector reads the label selector of a workload, service or label target.
func (r *Resolver) selector(ctx context.Context, ns string, t targetpath.Target) (labels.Selector, error) {
	var ls *metav1.LabelSelector
	switch t.Kind {
	case targetpath.Label:
		return labels.SelectorFromSet(t.LabelMap()), nil
	case targetpath.Deployment:
		obj, err := r.Client.AppsV1().Deployments(ns).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, ns, t, err)
		}
		ls = obj.Spec.Selector
	case targetpath.StatefulSet:
		obj, err := r.Client.AppsV1().StatefulSets(ns).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, ns, t, err)
		}
		ls = obj.Spec.Selector
	case targetpath.ReplicaSet:
		obj, err := r.Client.AppsV1().ReplicaSets(ns).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, ns, t, err)
		}
		ls = obj.Spec.Selector
	case targetpath.Job:
		obj, err := r.Client.BatchV1().Jobs(ns).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, ns, t, err)
		}
		ls = obj.Spec.Selector
	case targetpath.CronJob:
		return r.cronJobSelector(ctx, ns, t)
	case targetpath.Service:
		obj, err := r.Client.CoreV1().Services(ns).Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, r.getError(ctx, ns, t, err)
		}
		if len(obj.Spec.Selector) == 0 {
			return nil, fmt.Errorf("target %s: service %q in namespace %q has no selector, so no pods belong to it", t, t.Name, ns)
		}
		return labels.SelectorFromSet(obj.Spec.Selector), nil
	case targetpath.Rollout:
		var err error
		if ls, err = r.rolloutSelector(ctx, ns, t); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("target %s: kind %q cannot be resolved", t, t.Kind)
	}
	return toSelector(t, ls)
}

func toSelector(t targetpath.Target, ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil || (len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0) {
		return nil, fmt.Errorf("target %s has no pod selector", t)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("target %s: selector: %w", t, err)
	}
	return sel, nil
}

// cronJobSelector uses the job template's selector when it has one, else
// the pods of the cron job's newest job that still exists.
func (r *Resolver) cronJobSelector(ctx context.Context, ns string, t targetpath.Target) (labels.Selector, error) {
	cj, err := r.Client.BatchV1().CronJobs(ns).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return nil, r.getError(ctx, ns, t, err)
	}
	if ls := cj.Spec.JobTemplate.Spec.Selector; ls != nil {
		return toSelector(t, ls)
	}
	jobs, err := r.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("target %s: list jobs in namespace %q: %w", t, ns, err)
	}
	var owned []int
	for i, j := range jobs.Items {
		if c := metav1.GetControllerOf(&j); c != nil && c.UID == cj.UID {
			owned = append(owned, i)
		}
	}
	if len(owned) == 0 {
		return nil, &NoEligiblePodError{Target: t, Namespace: ns,
			Reasons: []string{"the cron job has no jobs running"}}
	}
	sort.SliceStable(owned, func(a, b int) bool {
		return jobs.Items[owned[b]].CreationTimestamp.Before(&jobs.Items[owned[a]].CreationTimestamp)
	})
	return toSelector(t, jobs.Items[owned[0]].Spec.Selector)
}

// rolloutSelector reads an Argo Rollout's selector, or that of the
// Deployment its workloadRef points to.
func (r *Resolver) rolloutSelector(ctx context.Context, ns string, t targetpath.Target) (*metav1.LabelSelector, error) {
	if r.Dynamic == nil {
		return nil, fmt.Errorf("target %s: rollouts need a dynamic client", t)
	}
	obj, err := r.Dynamic.Resource(listing.RolloutResource).Namespace(ns).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return nil, r.getError(ctx, ns, t, err)
	}
	return RolloutSelector(ctx, r.Client, obj)
}

// RolloutSelector returns the pod selector of a Rollout object.
func RolloutSelector(ctx context.Context, client kubernetes.Interface, obj *unstructured.Unstructured) (*metav1.LabelSelector, error) {
	if m, found, _ := unstructured.NestedMap(obj.Object, "spec", "selector"); found {
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
			return nil, fmt.Errorf("rollout %q: spec.selector: %w", obj.GetName(), err)
		}
		return &ls, nil
	}
	kind, _, _ := unstructured.NestedString(obj.Object, "spec", "workloadRef", "kind")
	name, _, _ := unstructured.NestedString(obj.Object, "spec", "workloadRef", "name")
	if kind == "Deployment" && name != "" {
		d, err := client.AppsV1().Deployments(obj.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("rollout %q: workloadRef deployment %q: %w", obj.GetName(), name, err)
		}
		return d.Spec.Selector, nil
	}
	return nil, fmt.Errorf("rollout %q has neither spec.selector nor a Deployment workloadRef", obj.GetName())
}

// getError turns a failed GET into a NotFoundError with what exists.
func (r *Resolver) getError(ctx context.Context, ns string, t targetpath.Target, err error) error {
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get %s %q in namespace %q: %w", t.Kind, t.Name, ns, err)
	}
	nf := &NotFoundError{Kind: t.Kind, Name: t.Name, Namespace: ns}
	names, lerr := r.names(ctx, ns, t.Kind)
	if lerr == nil {
		nf.Existing = names
		nf.Suggestion = suggest.Closest(t.Name, names)
	}
	if len(names) == 0 {
		if _, nerr := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(nerr) {
			nf.NamespaceMissing = true
		}
	}
	return nf
}

// nameLimit bounds the names fetched for a did-you-mean.
const nameLimit = 500

// names lists up to nameLimit object names of a kind in a namespace.
func (r *Resolver) names(ctx context.Context, ns string, kind targetpath.Kind) ([]string, error) {
	opts := metav1.ListOptions{Limit: nameLimit}
	var metas []metav1.Object
	switch kind {
	case targetpath.Pod:
		l, err := r.Client.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.Deployment:
		l, err := r.Client.AppsV1().Deployments(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.StatefulSet:
		l, err := r.Client.AppsV1().StatefulSets(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.ReplicaSet:
		l, err := r.Client.AppsV1().ReplicaSets(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.Job:
		l, err := r.Client.BatchV1().Jobs(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.CronJob:
		l, err := r.Client.BatchV1().CronJobs(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.Service:
		l, err := r.Client.CoreV1().Services(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	case targetpath.Rollout:
		if r.Dynamic == nil {
			return nil, nil
		}
		l, err := r.Dynamic.Resource(listing.RolloutResource).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			metas = append(metas, &l.Items[i])
		}
	}
	names := make([]string, len(metas))
	for i, m := range metas {
		names[i] = m.GetName()
	}
	return names, nil
}
