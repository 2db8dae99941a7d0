// Package listing defines what a target listing contains and how each kind
// of object becomes listing entries. It is shared by the one-shot listing of
// `mirrord ls` (Lister: one paginated LIST per kind) and the watch-backed
// cache of the language server (package catalog), so both agree on paths,
// availability and containers.
package listing

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
)

// Target is one entry of a listing.
type Target struct {
	// Path is the target path, e.g. "pod/api-0/container/app".
	Path      string          `json:"path"`
	Kind      targetpath.Kind `json:"kind"`
	Name      string          `json:"name"`
	Namespace string          `json:"namespace"`
	// Available reports that the target resolves to a pod now (see
	// docs/cli.md for the rule of each kind).
	Available bool `json:"available"`
	// Containers are the containers a /container/ suffix may name: the
	// non-sidecar containers of the pod or of the workload's pod template.
	Containers []string `json:"containers,omitempty"`
}

// Listing is the answer to "what can I target here".
type Listing struct {
	Targets          []Target `json:"targets"`
	CurrentNamespace string   `json:"current_namespace"`
	Namespaces       []string `json:"namespaces"`
	Warnings         []string `json:"warnings,omitempty"`
}

// Kinds are the kinds a listing can contain, in output order.
var Kinds = []targetpath.Kind{
	targetpath.Pod, targetpath.Deployment, targetpath.Rollout, targetpath.StatefulSet,
	targetpath.ReplicaSet, targetpath.Job, targetpath.CronJob, targetpath.Service,
}

// OpenSourceKinds are what mirrord's open-source CLI lists by default.
var OpenSourceKinds = []targetpath.Kind{targetpath.Pod, targetpath.Deployment, targetpath.Rollout}

// Listable reports whether a kind can appear in a listing.
func Listable(k targetpath.Kind) bool { return slices.Contains(Kinds, k) }

// Mirrord's own resources are never listed. ExcludeSelector is the label
// selector that drops them server-side.
const ExcludeSelector = "app!=mirrord,!operator.metalbear.co/owner"

// Excluded reports whether labels mark one of mirrord's own resources.
func Excluded(labels map[string]string) bool {
	if labels["app"] == "mirrord" {
		return true
	}
	_, owned := labels["operator.metalbear.co/owner"]
	return owned
}

func path(kind targetpath.Kind, name, container string) string {
	return targetpath.Target{Kind: kind, Name: name, Container: container}.String()
}

// PodAvailable is the listing rule for pods: Running with the Ready
// condition True and not being deleted.
func PodAvailable(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && podselect.PodReady(pod)
}

// PodTargets returns a pod's entries: "pod/N" when it has one eligible
// container, else one "pod/N/container/C" per eligible container.
func PodTargets(pod *corev1.Pod) []Target {
	containers := podselect.Eligible(podselect.Containers(pod))
	avail := PodAvailable(pod)
	if len(containers) <= 1 {
		return []Target{{Path: path(targetpath.Pod, pod.Name, ""), Kind: targetpath.Pod, Name: pod.Name,
			Namespace: pod.Namespace, Available: avail, Containers: containers}}
	}
	out := make([]Target, len(containers))
	for i, c := range containers {
		out[i] = Target{Path: path(targetpath.Pod, pod.Name, c), Kind: targetpath.Pod, Name: pod.Name,
			Namespace: pod.Namespace, Available: avail, Containers: []string{c}}
	}
	return out
}

func workload(kind targetpath.Kind, name, ns string, avail bool, tmpl *corev1.PodTemplateSpec) Target {
	t := Target{Path: path(kind, name, ""), Kind: kind, Name: name, Namespace: ns, Available: avail}
	if tmpl != nil {
		names := make([]string, len(tmpl.Spec.Containers))
		for i, c := range tmpl.Spec.Containers {
			names[i] = c.Name
		}
		t.Containers = podselect.Eligible(names)
	}
	return t
}

// DeploymentTarget: available with at least one available replica.
func DeploymentTarget(d *appsv1.Deployment) Target {
	return workload(targetpath.Deployment, d.Name, d.Namespace, d.Status.AvailableReplicas >= 1, &d.Spec.Template)
}

// StatefulSetTarget: available with at least one available or ready replica.
func StatefulSetTarget(s *appsv1.StatefulSet) Target {
	avail := s.Status.AvailableReplicas >= 1 || s.Status.ReadyReplicas >= 1
	return workload(targetpath.StatefulSet, s.Name, s.Namespace, avail, &s.Spec.Template)
}

// ReplicaSetTarget: available with at least one available replica.
func ReplicaSetTarget(r *appsv1.ReplicaSet) Target {
	return workload(targetpath.ReplicaSet, r.Name, r.Namespace, r.Status.AvailableReplicas >= 1, &r.Spec.Template)
}

// JobTarget: available while at least one of its pods is active.
func JobTarget(j *batchv1.Job) Target {
	return workload(targetpath.Job, j.Name, j.Namespace, j.Status.Active >= 1, &j.Spec.Template)
}

// CronJobTarget: available while at least one of its jobs is active.
func CronJobTarget(c *batchv1.CronJob) Target {
	return workload(targetpath.CronJob, c.Name, c.Namespace, len(c.Status.Active) >= 1, &c.Spec.JobTemplate.Spec.Template)
}

// ServiceTarget: available when it selects pods (has a selector and is not
// an ExternalName service).
func ServiceTarget(s *corev1.Service) Target {
	avail := len(s.Spec.Selector) > 0 && s.Spec.Type != corev1.ServiceTypeExternalName
	return workload(targetpath.Service, s.Name, s.Namespace, avail, nil)
}

// RolloutTarget: every Argo Rollout is listed as available, as mirrord does.
// Containers come from its inline template, when it has one.
func RolloutTarget(u *unstructured.Unstructured) Target {
	t := workload(targetpath.Rollout, u.GetName(), u.GetNamespace(), true, nil)
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	var names []string
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				names = append(names, n)
			}
		}
	}
	if len(names) > 0 {
		t.Containers = podselect.Eligible(names)
	}
	return t
}

// Sort orders targets by kind (in Kinds order), namespace, then path.
func Sort(ts []Target) {
	slices.SortFunc(ts, func(a, b Target) int {
		return cmp.Or(
			cmp.Compare(slices.Index(Kinds, a.Kind), slices.Index(Kinds, b.Kind)),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Path, b.Path))
	})
}

// OnlyAvailable drops the unavailable targets, in place.
func OnlyAvailable(ts []Target) []Target {
	return slices.DeleteFunc(ts, func(t Target) bool { return !t.Available })
}
