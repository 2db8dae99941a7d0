// Package podselect holds the rules that decide whether a pod can be a
// mirrord target and which of its containers is used (reference runtime.md
// §6.2): the pod is Running, not being deleted, scheduled with an IP; the
// container is ready and has a container id; mesh and sidecar containers
// are skipped unless named, and the default-container annotation wins.
package podselect

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/mirrord-ls/mirrord-ls/kube/suggest"
)

// DefaultContainerAnnotation names the container kubectl uses by default.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// skipNames are mesh and sidecar containers mirrord never picks on its own.
var skipNames = []string{
	"istio-proxy", "istio-init", "linkerd-proxy", "linkerd-init",
	"kuma-sidecar", "kuma-init", "vault-agent", "vault-agent-init",
	"queue-proxy", "traffic-agent",
}

// IsSidecar reports whether a container name is a known mesh or sidecar
// container that is skipped when choosing a container.
func IsSidecar(name string) bool { return slices.Contains(skipNames, name) }

// ContainerRuntimes are the accepted prefixes of a container id.
var containerRuntimes = []string{"docker://", "containerd://", "cri-o://"}

// ValidContainerID reports whether id is "<runtime>://<id>" with a runtime
// mirrord's agent understands.
func ValidContainerID(id string) bool {
	for _, p := range containerRuntimes {
		if rest, ok := strings.CutPrefix(id, p); ok && rest != "" {
			return true
		}
	}
	return false
}

// NotRunningReason returns why a pod cannot be a target as a whole (phase,
// deletion, scheduling, IP), or "" when it can.
func NotRunningReason(pod *corev1.Pod) string {
	switch {
	case pod.DeletionTimestamp != nil:
		return "is being deleted"
	case pod.Status.Phase != corev1.PodRunning:
		phase := string(pod.Status.Phase)
		if phase == "" {
			phase = "Unknown"
		}
		return "is " + phase + ", not Running"
	case pod.Spec.NodeName == "":
		return "is not scheduled to a node"
	case len(pod.Status.PodIPs) == 0 && pod.Status.PodIP == "":
		return "has no pod IP"
	}
	return ""
}

// PodReady reports whether the pod's Ready condition is True.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Containers returns the names of the pod's (non-init) containers.
func Containers(pod *corev1.Pod) []string {
	names := make([]string, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		names[i] = c.Name
	}
	return names
}

// Eligible returns the containers a listing offers as separate targets: the
// non-sidecar ones, or all of them when every container is a sidecar.
func Eligible(containers []string) []string {
	var out []string
	for _, c := range containers {
		if !IsSidecar(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return append([]string(nil), containers...)
	}
	return out
}

// Choice is the container chosen in a pod.
type Choice struct {
	Name        string
	ContainerID string
	// Warnings for the user (all containers are sidecars, ambiguous choice).
	Warnings []string
}

// ChooseContainer picks the container of a pod as mirrord does: an explicit
// name, else the default-container annotation, else the first non-sidecar
// container. The chosen container must be ready with a valid container id.
func ChooseContainer(pod *corev1.Pod, explicit string) (Choice, error) {
	names := Containers(pod)
	if len(names) == 0 {
		return Choice{}, fmt.Errorf("pod %s/%s has no containers", pod.Namespace, pod.Name)
	}
	var ch Choice
	switch {
	case explicit != "":
		if !slices.Contains(names, explicit) {
			return Choice{}, fmt.Errorf("container %q not found in pod %s/%s%s; containers: %s",
				explicit, pod.Namespace, pod.Name, suggest.Hint(explicit, names), suggest.List(names, 0))
		}
		ch.Name = explicit
	case pod.Annotations[DefaultContainerAnnotation] != "" &&
		slices.Contains(names, pod.Annotations[DefaultContainerAnnotation]):
		ch.Name = pod.Annotations[DefaultContainerAnnotation]
	default:
		eligible := Eligible(names)
		ch.Name = eligible[0]
		if IsSidecar(ch.Name) {
			ch.Warnings = append(ch.Warnings, fmt.Sprintf(
				"every container of pod %s/%s is a mesh or sidecar container; using %q", pod.Namespace, pod.Name, ch.Name))
		} else if len(eligible) > 1 {
			ch.Warnings = append(ch.Warnings, fmt.Sprintf(
				"pod %s/%s has several containers (%s); using %q. Pick one with /container/<name>",
				pod.Namespace, pod.Name, strings.Join(eligible, ", "), ch.Name))
		}
		if slices.Contains(names, "traffic-agent") {
			ch.Warnings = append(ch.Warnings, fmt.Sprintf(
				"pod %s/%s runs Telepresence's traffic-agent, which may interfere with mirrord", pod.Namespace, pod.Name))
		}
	}
	var status *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == ch.Name {
			status = &pod.Status.ContainerStatuses[i]
		}
	}
	switch {
	case status == nil:
		return Choice{}, fmt.Errorf("container %q of pod %s/%s has no status yet", ch.Name, pod.Namespace, pod.Name)
	case !status.Ready:
		return Choice{}, fmt.Errorf("container %q of pod %s/%s is not ready", ch.Name, pod.Namespace, pod.Name)
	case !ValidContainerID(status.ContainerID):
		return Choice{}, fmt.Errorf("container %q of pod %s/%s has no usable container id (%q; want docker://, containerd:// or cri-o://)",
			ch.Name, pod.Namespace, pod.Name, status.ContainerID)
	}
	ch.ContainerID = status.ContainerID
	return ch, nil
}
