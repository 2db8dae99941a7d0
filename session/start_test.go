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
	req := clusterRequest(t, c, ns, `{"target": "pod/api-0", "agent": {"startup_timeout": 4}}`, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		if e.Kind == TaskStarted && e.Task == TaskConnect {
			created = leftovers(t, c, ns)
		}
	})
	_, err := Start(context.Background(), req)
	var se *Error
	if !errors.As(err, &se) || se.Message != "cannot connect to the agent through port-forward" || se.Help == "" {
		t.Fatalf("err = %v", err)
	}
	if len(created) != 2 {
		t.Errorf("before connecting, the namespace had %v; want the agent Job and Secret", created)
	}
	if left := leftovers(t, c, ns); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	var seq []string
	for _, e := range events {
		switch e.Kind {
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
