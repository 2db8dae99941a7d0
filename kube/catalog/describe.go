package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/kube/suggest"
)

// Description is what the cache knows about one target, for hovers and
// diagnostics: its pods and which pod and container a session would use.
type Description struct {
	Target    targetpath.Target `json:"target"`
	Namespace string            `json:"namespace"`
	// Selector of a workload, service or label target ("" for a pod).
	Selector string      `json:"selector,omitempty"`
	Pods     []PodStatus `json:"pods"`
	// Chosen is the pod a session would use now ("" when none can be
	// used), and ChosenContainer its container.
	Chosen          string `json:"chosen,omitempty"`
	ChosenContainer string `json:"chosen_container,omitempty"`
	// Problem says why no pod can be used, when Chosen is "".
	Problem  string   `json:"problem,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// PodStatus is one pod of a described target.
type PodStatus struct {
	Name       string            `json:"name"`
	Phase      string            `json:"phase"`
	Ready      bool              `json:"ready"`
	Node       string            `json:"node,omitempty"`
	IPs        []string          `json:"ips,omitempty"`
	Containers []ContainerStatus `json:"containers"`
	// Problem is why this pod cannot be used ("" when it can).
	Problem string `json:"problem,omitempty"`
}

// ContainerStatus is one container of a pod.
type ContainerStatus struct {
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Sidecar bool   `json:"sidecar,omitempty"`
}

// maxDescribedPods bounds the pods of a description.
const maxDescribedPods = 20

// Describe looks a target up in the cache (starting the namespace's
// informers if needed). A target that does not exist gives a
// *resolve.NotFoundError with a did-you-mean from the cached names. The
// choice of pod and container follows kube/resolve; the cache trims pods,
// so container ids are checked as the API reported them.
func (c *Catalog) Describe(ctx context.Context, q Query, t targetpath.Target) (*Description, error) {
	if t.Kind == targetpath.Targetless {
		return nil, errors.New("targetless has no pods")
	}
	cl, err := c.cluster(q)
	if err != nil {
		return nil, err
	}
	ns := q.Namespace
	if ns == "" {
		ns = cl.cfg.Namespace
	}
	nc := cl.namespace(ns)
	d := &Description{Target: t, Namespace: ns, Pods: []PodStatus{}}
	pods, err := cl.objects(ctx, nc, targetpath.Pod)
	if err != nil {
		return nil, err
	}
	var matched []*corev1.Pod
	if t.Kind == targetpath.Pod {
		for _, o := range pods {
			if p := o.(*corev1.Pod); p.Name == t.Name {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			return nil, notFound(t, ns, pods)
		}
	} else {
		sel, err := cl.selector(ctx, nc, t)
		if err != nil {
			return nil, err
		}
		d.Selector = sel.String()
		for _, o := range pods {
			if p := o.(*corev1.Pod); sel.Matches(labels.Set(p.Labels)) {
				matched = append(matched, p)
			}
		}
		sort.Slice(matched, func(i, j int) bool { return matched[i].Name < matched[j].Name })
	}
	for _, p := range matched {
		ps := podStatus(p)
		if ps.Problem == "" && d.Chosen == "" {
			choice, err := podselect.ChooseContainer(p, t.Container)
			if err != nil {
				ps.Problem = err.Error()
			} else {
				d.Chosen, d.ChosenContainer = p.Name, choice.Name
				d.Warnings = append(d.Warnings, choice.Warnings...)
			}
		}
		if len(d.Pods) < maxDescribedPods {
			d.Pods = append(d.Pods, ps)
		}
	}
	switch {
	case len(matched) == 0:
		d.Problem = "no pods match selector " + d.Selector
	case d.Chosen == "":
		d.Problem = fmt.Sprintf("none of its %d pod(s) can be targeted", len(matched))
	case len(matched) > 1:
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s has %d pods; only pod %s is impersonated", t, len(matched), d.Chosen))
	}
	return d, nil
}

func podStatus(p *corev1.Pod) PodStatus {
	ps := PodStatus{Name: p.Name, Phase: string(p.Status.Phase), Ready: podselect.PodReady(p), Node: p.Spec.NodeName}
	for _, ip := range p.Status.PodIPs {
		ps.IPs = append(ps.IPs, ip.IP)
	}
	for _, c := range p.Spec.Containers {
		cs := ContainerStatus{Name: c.Name, Sidecar: podselect.IsSidecar(c.Name)}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == c.Name {
				cs.Ready = s.Ready
			}
		}
		ps.Containers = append(ps.Containers, cs)
	}
	if reason := podselect.NotRunningReason(p); reason != "" {
		ps.Problem = "pod " + p.Name + " " + reason
	}
	return ps
}

func notFound(t targetpath.Target, ns string, objs []any) error {
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok {
			names = append(names, m.GetName())
		}
	}
	return &resolve.NotFoundError{Kind: t.Kind, Name: t.Name, Namespace: ns, Existing: names,
		Suggestion: suggest.Closest(t.Name, names)}
}

// objects returns the cached objects of a kind (see targets).
func (cl *cluster) objects(ctx context.Context, nc *namespaceCache, k targetpath.Kind) ([]any, error) {
	objs, warning, err := cl.cached(ctx, nc, k)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		return nil, errors.New(warning)
	}
	return objs, nil
}

// selector finds the pod selector of a non-pod target in the cache.
func (cl *cluster) selector(ctx context.Context, nc *namespaceCache, t targetpath.Target) (labels.Selector, error) {
	if t.Kind == targetpath.Label {
		return labels.SelectorFromSet(t.LabelMap()), nil
	}
	if _, ok := kinds[t.Kind]; !ok {
		return nil, fmt.Errorf("target %s: kind %q cannot be described", t, t.Kind)
	}
	if t.Kind == targetpath.Rollout {
		ok, err := cl.rolloutsInstalled()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("target %s: the Argo Rollouts CRD is not installed in this cluster", t)
		}
	}
	objs, err := cl.objects(ctx, nc, t.Kind)
	if err != nil {
		return nil, err
	}
	var obj any
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok && m.GetName() == t.Name {
			obj = o
		}
	}
	if obj == nil {
		return nil, notFound(t, nc.name, objs)
	}
	var ls *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		ls = o.Spec.Selector
	case *appsv1.StatefulSet:
		ls = o.Spec.Selector
	case *appsv1.ReplicaSet:
		ls = o.Spec.Selector
	case *batchv1.Job:
		ls = o.Spec.Selector
	case *batchv1.CronJob:
		ls = o.Spec.JobTemplate.Spec.Selector
		if ls == nil {
			return cl.cronJobSelector(ctx, nc, t, o)
		}
	case *corev1.Service:
		if len(o.Spec.Selector) == 0 || o.Spec.Type == corev1.ServiceTypeExternalName {
			return nil, fmt.Errorf("target %s: service %q has no selector, so no pods belong to it", t, o.Name)
		}
		return labels.SelectorFromSet(o.Spec.Selector), nil
	case *unstructured.Unstructured:
		m, found, _ := unstructured.NestedMap(o.Object, "spec", "selector")
		if !found {
			return nil, fmt.Errorf("target %s: rollout has no spec.selector", t)
		}
		ls = &metav1.LabelSelector{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, ls); err != nil {
			return nil, fmt.Errorf("target %s: spec.selector: %w", t, err)
		}
	}
	if ls == nil || (len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0) {
		return nil, fmt.Errorf("target %s has no pod selector", t)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("target %s: selector: %w", t, err)
	}
	return sel, nil
}

// cronJobSelector uses the newest cached job the cron job controls.
func (cl *cluster) cronJobSelector(ctx context.Context, nc *namespaceCache, t targetpath.Target, cj *batchv1.CronJob) (labels.Selector, error) {
	jobs, err := cl.objects(ctx, nc, targetpath.Job)
	if err != nil {
		return nil, err
	}
	var newest *batchv1.Job
	for _, o := range jobs {
		j := o.(*batchv1.Job)
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.UID == cj.UID &&
			(newest == nil || newest.CreationTimestamp.Before(&j.CreationTimestamp)) {
			newest = j
		}
	}
	if newest == nil || newest.Spec.Selector == nil {
		return nil, fmt.Errorf("target %s: the cron job has no jobs running", t)
	}
	return metav1.LabelSelectorAsSelector(newest.Spec.Selector)
}
