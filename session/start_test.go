package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

// clusterRequest is a Start request against the local control plane for a
// pod target in ns.
func clusterRequest(t *testing.T, c *kubetest.Cluster, ns, cfg string, progress ProgressFunc) Request {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "mirrord.json")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, LayerName)
	if err := os.WriteFile(layer, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return Request{
		ConfigPath: p, Layer: layer, SessionsDir: t.TempDir(), Progress: progress,
		Env: map[string]string{
			"KUBECONFIG": c.Kubeconfig, "MIRRORD_BRANCH_NAME": "PROJ-9-start",
			// the test process's own overrides must not leak in
			"MIRRORD_AGENT_ADDRESS": "", "MIRRORD_AGENT_TOKEN": "", "MIRRORD_TARGET_NAMESPACE": ns,
		},
	}
}

// leftovers lists the agent Jobs and Secrets in ns.
func leftovers(t *testing.T, c *kubetest.Cluster, ns string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	sel := metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue}
	jobs, err := c.Client.BatchV1().Jobs(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			out = append(out, "job/"+j.Name)
		}
	}
	secrets, err := c.Client.CoreV1().Secrets(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		out = append(out, "secret/"+s.Name)
	}
	return out
}

// Start against the control plane: it resolves the pod, creates the Job
// (ready once kwok runs it), then cannot port-forward (kwok has no
// kubelet): the error says so, and the Job and Secret are gone.
func TestStartClusterAgentFailureTearsDown(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 1)
	ns := c.Namespace(t)
	c.CreatePod(t, ns, kubetest.Pod("api-0", nil, nil, "app"))
	var mu sync.Mutex
	var events []Event
	var created []string
	req := clusterRequest(t, c, ns, `{"target": "pod/api-0", "agent": {"startup_timeout": 4, "communication_timeout": 3, "image": "registry.test/agent:x"}}`, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		if e.Kind == TaskStarted && e.Task == TaskConnect {
			created = leftovers(t, c, ns)
		}
	})
	_, err := Start(context.Background(), req)
	var se *Error
	if !errors.As(err, &se) || se.Message != "cannot connect to the agent (image registry.test/agent:x) through port-forward" ||
		!strings.Contains(se.Help, "pods/portforward") || !strings.Contains(se.Help, "agent.image") {
		t.Fatalf("err = %v", err)
	}
	if len(created) != 2 {
		t.Errorf("before connecting, the namespace had %v; want the agent Job and Secret", created)
	}
	if left := leftovers(t, c, ns); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	var seq []string
	announced := false
	for _, e := range events {
		switch e.Kind {
		case TaskProgress:
			announced = announced || (e.Task == TaskAgent && strings.HasPrefix(e.Message, "agent Job mirrord-agent-") &&
				strings.HasSuffix(e.Message, " created in "+ns+" (image registry.test/agent:x)"))
		case TaskStarted:
			seq = append(seq, "+"+e.Task)
		case TaskFinished:
			if e.Success {
				seq = append(seq, "ok "+e.Task)
			} else {
				seq = append(seq, "failed "+e.Task)
			}
		}
	}
	want := []string{"+" + TaskConfig, "ok " + TaskConfig, "+" + TaskTarget, "ok " + TaskTarget,
		"+" + TaskAgent, "ok " + TaskAgent, "+" + TaskConnect, "failed " + TaskConnect}
	if strings.Join(seq, "|") != strings.Join(want, "|") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
	if !announced {
		t.Errorf("no progress event for the agent Job's creation: %+v", events)
	}
}

// Cancelling Start while it waits for the agent deletes the agent.
func TestStartCancelledTearsDown(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 1)
	ns := c.Namespace(t)
	// A node selector nothing matches: the agent waits to be scheduled.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := clusterRequest(t, c, ns, `{"target": "targetless", "agent": {"node_selector": {"nowhere": "x"}}}`, func(e Event) {
		if e.Kind == TaskStarted && e.Task == TaskAgent {
			go func() {
				// Cancel once the Job and Secret exist.
				defer cancel()
				sel := metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue}
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					jobs, err := c.Client.BatchV1().Jobs(ns).List(context.Background(), sel)
					if err == nil && len(jobs.Items) == 1 {
						return
					}
				}
			}()
		}
	})
	start := time.Now()
	_, err := Start(ctx, req)
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Message != "the session start was cancelled" {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("cancellation took %v", time.Since(start))
	}
	if left := leftovers(t, c, ns); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A target that does not exist fails before any agent is created.
func TestStartUnknownTarget(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	_, err := Start(context.Background(), clusterRequest(t, c, ns, `{"target": "deployment/nope"}`, nil))
	var se *Error
	if !errors.As(err, &se) || se.Message != "cannot resolve the target deployment/nope" || len(se.Causes()) == 0 {
		t.Fatalf("err = %#v", err)
	}
	if left := leftovers(t, c, ns); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// An agent image that is not this project's agent: its container cannot
// start or ends at once. Start fails right away (not at
// agent.startup_timeout) with an error naming the image and agent.image,
// and removes the Job and Secret.
func TestStartAgentImageFails(t *testing.T) {
	c := kubetest.Start(t)
	tests := []struct {
		name  string
		state corev1.ContainerState
		want  error
		says  string
	}{
		{"exits on our flags", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: "Error", ExitCode: 2, Message: "error: unexpected argument '--listen' found"}}, agentpod.ErrExited, "exit code 2"},
		{"no mirrord-agent in the image", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "RunContainerError", Message: `exec: "mirrord-agent": executable file not found in $PATH`}}, agentpod.ErrExited, "executable file not found"},
		{"image not pulled", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "ErrImageNeverPull", Message: "image is not present with pull policy of Never"}}, agentpod.ErrImagePull, "ErrImageNeverPull"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := c.Namespace(t)
			// Nothing schedules the pod (no kwok run): the test plays the kubelet.
			req := clusterRequest(t, c, ns, `{"target": "targetless", "agent": {"image": "ghcr.io/metalbear-co/mirrord:3.150.0",
				"startup_timeout": 60, "node_selector": {"nowhere": "x"}}}`, nil)
			go func() {
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue})
					if err != nil || len(pods.Items) == 0 {
						continue
					}
					p := pods.Items[0]
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: agentpod.ContainerName, Image: "ghcr.io/metalbear-co/mirrord:3.150.0", State: tt.state}}
					if _, err := c.Client.CoreV1().Pods(ns).UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err == nil {
						return
					}
				}
			}()
			t0 := time.Now()
			_, err := Start(context.Background(), req)
			var se *Error
			if !errors.As(err, &se) || !errors.Is(err, tt.want) || se.Message != "the agent did not start" {
				t.Fatalf("err = %v", err)
			}
			for _, s := range []string{"ghcr.io/metalbear-co/mirrord:3.150.0", "agent.image", tt.says} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			if !strings.Contains(se.Help, "agent.image") {
				t.Errorf("help %q", se.Help)
			}
			if d := time.Since(t0); d > 30*time.Second {
				t.Errorf("failed after %v, not at once", d)
			}
			if left := leftovers(t, c, ns); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}
