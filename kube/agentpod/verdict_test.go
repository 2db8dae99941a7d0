package agentpod

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestCheckFailures: every state of an agent container that cannot become
// ready fails at once, classified, and an image problem names the image.
func TestCheckFailures(t *testing.T) {
	const image = "ghcr.io/metalbear-co/mirrord:3.150.0"
	waiting := func(reason, msg string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	tests := []struct {
		name   string
		status corev1.ContainerStatus
		phase  corev1.PodPhase
		want   error
		says   []string
	}{
		{"image pull", corev1.ContainerStatus{State: waiting("ErrImagePull", "not found")}, corev1.PodPending,
			ErrImagePull, []string{image, "agent.image"}},
		{"image pull backoff", corev1.ContainerStatus{State: waiting("ImagePullBackOff", "Back-off pulling")}, corev1.PodPending,
			ErrImagePull, []string{image, "agent.image"}},
		{"never pull", corev1.ContainerStatus{State: waiting("ErrImageNeverPull", "image not present with pull policy Never")}, corev1.PodPending,
			ErrImagePull, []string{image, "agent.image"}},
		{"no mirrord-agent on PATH", corev1.ContainerStatus{State: waiting("RunContainerError",
			`exec: "mirrord-agent": executable file not found in $PATH`)}, corev1.PodPending,
			ErrExited, []string{image, "agent.image", "executable file not found"}},
		{"crash loop", corev1.ContainerStatus{State: waiting("CrashLoopBackOff", "back-off 10s"),
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}}},
			corev1.PodRunning, ErrExited, []string{image, "agent.image", "CrashLoopBackOff", "exit code 2"}},
		{"exited on unknown flags", corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: "Error", ExitCode: 2, Message: "error: unexpected argument '--listen' found"}}},
			corev1.PodFailed, ErrExited, []string{image, "agent.image", "exit code 2", "--listen"}},
		{"start error", corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: "StartError", ExitCode: 128}}},
			corev1.PodFailed, ErrExited, []string{image, "StartError", "exit code 128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Agent{Job: "mirrord-agent-x", Container: ContainerName, Image: image}
			tt.status.Name = ContainerName
			pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: tt.phase,
				ContainerStatuses: []corev1.ContainerStatus{tt.status}}}
			pod.Name = "mirrord-agent-x-abcde"
			v := a.check(pod)
			if v.ready || !errors.Is(v.err, tt.want) {
				t.Fatalf("verdict %+v, want %v", v, tt.want)
			}
			for _, s := range tt.says {
				if !strings.Contains(v.err.Error(), s) {
					t.Errorf("%q does not say %q", v.err, s)
				}
			}
		})
	}
}

// TestCheckPending: states that may still turn out well keep waiting.
func TestCheckPending(t *testing.T) {
	a := &Agent{Job: "mirrord-agent-x", Container: ContainerName, Image: "img"}
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}}
	if v := a.check(pod); v.ready || v.err != nil || !strings.Contains(v.pending, "ContainerCreating") {
		t.Fatalf("verdict %+v", v)
	}
	pod.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: ContainerName, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if v := a.check(pod); !v.ready {
		t.Fatalf("running and ready: %+v", v)
	}
}
