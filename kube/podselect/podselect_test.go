package podselect

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pod builds a running pod whose containers are all ready with ids, except
// the names listed in notReady.
func pod(annotation string, containers []string, notReady ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       corev1.PodSpec{NodeName: "n"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}},
	}
	if annotation != "" {
		p.Annotations = map[string]string{DefaultContainerAnnotation: annotation}
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		ready := true
		for _, n := range notReady {
			if n == c {
				ready = false
			}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses,
			corev1.ContainerStatus{Name: c, Ready: ready, ContainerID: "containerd://" + c})
	}
	return p
}

func TestChooseContainer(t *testing.T) {
	tests := []struct {
		name       string
		pod        *corev1.Pod
		explicit   string
		want       string
		wantErr    string
		wantWarned bool
	}{
		{name: "single", pod: pod("", []string{"app"}), want: "app"},
		{name: "istio first", pod: pod("", []string{"istio-proxy", "app"}), want: "app"},
		{name: "linkerd", pod: pod("", []string{"linkerd-proxy", "web"}), want: "web"},
		{name: "annotation", pod: pod("b", []string{"a", "b"}), want: "b"},
		{name: "annotation unknown falls back", pod: pod("zzz", []string{"istio-proxy", "a"}), want: "a"},
		{name: "explicit over annotation", pod: pod("b", []string{"a", "b"}), explicit: "a", want: "a"},
		{name: "explicit sidecar", pod: pod("", []string{"istio-proxy", "a"}), explicit: "istio-proxy", want: "istio-proxy"},
		{name: "all sidecars", pod: pod("", []string{"istio-proxy", "linkerd-proxy"}), want: "istio-proxy", wantWarned: true},
		{name: "ambiguous", pod: pod("", []string{"a", "b"}), want: "a", wantWarned: true},
		{name: "explicit missing", pod: pod("", []string{"app", "web"}), explicit: "ap", wantErr: `container "ap" not found in pod ns/p (did you mean app?); containers: app, web`},
		{name: "not ready", pod: pod("", []string{"app"}, "app"), wantErr: "is not ready"},
		{name: "no containers", pod: pod("", nil), wantErr: "has no containers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChooseContainer(tt.pod, tt.explicit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want || got.ContainerID != "containerd://"+tt.want {
				t.Errorf("chose %+v, want %q", got, tt.want)
			}
			if (len(got.Warnings) > 0) != tt.wantWarned {
				t.Errorf("warnings = %q, want warned=%v", got.Warnings, tt.wantWarned)
			}
		})
	}
}

func TestContainerID(t *testing.T) {
	p := pod("", []string{"app"})
	p.Status.ContainerStatuses[0].ContainerID = ""
	if _, err := ChooseContainer(p, ""); err == nil || !strings.Contains(err.Error(), "no usable container id") {
		t.Errorf("empty container id: error = %v", err)
	}
	for id, want := range map[string]bool{
		"docker://x": true, "containerd://x": true, "cri-o://x": true,
		"containerd://": false, "kwok://x": false, "": false,
	} {
		if got := ValidContainerID(id); got != want {
			t.Errorf("ValidContainerID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNotRunningReason(t *testing.T) {
	deleting := pod("", []string{"a"})
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	pending := pod("", []string{"a"})
	pending.Status.Phase = corev1.PodPending
	unscheduled := pod("", []string{"a"})
	unscheduled.Spec.NodeName = ""
	noIP := pod("", []string{"a"})
	noIP.Status.PodIPs = nil
	tests := []struct {
		pod  *corev1.Pod
		want string
	}{
		{pod("", []string{"a"}), ""},
		{deleting, "is being deleted"},
		{pending, "is Pending, not Running"},
		{unscheduled, "is not scheduled to a node"},
		{noIP, "has no pod IP"},
	}
	for _, tt := range tests {
		if got := NotRunningReason(tt.pod); got != tt.want {
			t.Errorf("NotRunningReason = %q, want %q", got, tt.want)
		}
	}
}

func TestEligible(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"app"}, []string{"app"}},
		{[]string{"istio-proxy", "app", "linkerd-proxy", "web"}, []string{"app", "web"}},
		{[]string{"istio-proxy"}, []string{"istio-proxy"}},
	}
	for _, tt := range tests {
		if got := Eligible(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Eligible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
