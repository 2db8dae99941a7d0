package listing

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
)

func runningPod(name string, ready bool, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	p.Status.Phase = corev1.PodRunning
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return p
}

func paths(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Path
	}
	return out
}

func TestPodTargets(t *testing.T) {
	deleting := runningPod("d", true, "app")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	tests := []struct {
		name      string
		pod       *corev1.Pod
		want      []string
		available bool
	}{
		{"one container", runningPod("a", true, "app"), []string{"pod/a"}, true},
		{"sidecar skipped", runningPod("b", true, "istio-proxy", "app"), []string{"pod/b"}, true},
		{"several", runningPod("c", true, "linkerd-proxy", "x", "y"), []string{"pod/c/container/x", "pod/c/container/y"}, true},
		{"only sidecars", runningPod("e", true, "istio-proxy", "linkerd-proxy"), []string{"pod/e/container/istio-proxy", "pod/e/container/linkerd-proxy"}, true},
		{"not ready", runningPod("f", false, "app"), []string{"pod/f"}, false},
		{"deleting", deleting, []string{"pod/d"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodTargets(tt.pod)
			if p := paths(got); len(p) != len(tt.want) || !equal(p, tt.want) {
				t.Fatalf("paths %q, want %q", p, tt.want)
			}
			for _, g := range got {
				if g.Available != tt.available || g.Kind != targetpath.Pod || g.Namespace != "ns" {
					t.Errorf("target %+v: want available=%v, kind pod, namespace ns", g, tt.available)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRolloutTarget(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "r", "namespace": "ns"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "istio-proxy"}, map[string]any{"name": "api"}},
		}}},
	}}
	got := RolloutTarget(u)
	if got.Path != "rollout/r" || !got.Available || !equal(got.Containers, []string{"api"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestExcluded(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   bool
	}{
		{nil, false},
		{map[string]string{"app": "web"}, false},
		{map[string]string{"app": "mirrord"}, true},
		{map[string]string{"operator.metalbear.co/owner": ""}, true},
	}
	for _, tt := range tests {
		if got := Excluded(tt.labels); got != tt.want {
			t.Errorf("Excluded(%v) = %v", tt.labels, got)
		}
	}
}

func TestSort(t *testing.T) {
	ts := []Target{
		{Path: "service/a", Kind: targetpath.Service},
		{Path: "deployment/b", Kind: targetpath.Deployment},
		{Path: "pod/z", Kind: targetpath.Pod},
		{Path: "deployment/a", Kind: targetpath.Deployment},
		{Path: "pod/a", Kind: targetpath.Pod},
	}
	Sort(ts)
	want := []string{"pod/a", "pod/z", "deployment/a", "deployment/b", "service/a"}
	if !equal(paths(ts), want) {
		t.Fatalf("sorted %q, want %q", paths(ts), want)
	}
}
