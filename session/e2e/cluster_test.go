package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod/kubelettest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/session"
)

// setPodRunning writes a Running, Ready status for pod (what a kubelet does).
func setPodRunning(ctx context.Context, c *kubetest.Cluster, ns, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP, p.Status.PodIPs = "10.244.200.1", []corev1.PodIP{{IP: "10.244.200.1"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = nil
		for _, ct := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: ct.Name, Image: ct.Image, Ready: true, ContainerID: "containerd://" + name + "-" + ct.Name,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
			})
		}
		_, err = c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// runAgentPod plays the fake node's kubelet for the agent pod the Job
// creates: it starts the real agent (in the test's network-namespace pod)
// with the token from the session's Secret, points the fake kubelet at it,
// and reports the pod running.
func runAgentPod(t *testing.T, c *kubetest.Cluster, ns string, pod *agenttest.Pod, kubelet *kubelettest.Kubelet, startErr <-chan error) {
	t.Helper()
	ctx := context.Background()
	var agentPod corev1.Pod
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-startErr:
			t.Fatalf("start ended before its agent ran: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent Job created no pod")
		}
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue})
		if err == nil && len(list.Items) > 0 {
			agentPod = list.Items[0]
			break
		}
	}
	ref := agentPod.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef
	secret, err := c.Client.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := agenttest.StartAgent(t, pod, agenttest.AgentOptions{Token: string(secret.Data[ref.Key]), Extra: []string{"--linger", "60s"}})
	kubelet.SetTarget(a.Addr)
	if err := setPodRunning(ctx, c, ns, agentPod.Name); err != nil {
		t.Fatal(err)
	}
}

// The cluster path end to end on the real control plane: session.Start
// resolves pod/api-0, creates the agent Job pinned to its node, waits for
// it, connects through the API server's pods/portforward (to a fake
// kubelet in front of a real agent in a network namespace), and starts an
// intproxy wired to the handoff; python3 with the launch environment sees
// the remote environment and DNS; stopping the session removes the Job and
// Secret and posts the Jira worklog.
func TestClusterSessionEndToEnd(t *testing.T) {
	agenttest.RequireRoot(t)
	testbin.Dir(t)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: map[string]string{"GREETING": "hello from the cluster"}})
	kubelet := kubelettest.Start(t, "")
	node := kubelet.Node(t, c.Client)

	target := kubetest.Pod("api-0", map[string]string{"app": "api"}, nil, "app")
	target.Spec.NodeName = node
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, target, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := setPodRunning(ctx, c, ns, "api-0"); err != nil {
		t.Fatal(err)
	}

	worklogs := make(chan map[string]any, 4)
	jira := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/rest/api/3/issue/PROJ-7/worklog" || !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			t.Errorf("jira request %s %s %v", r.Method, r.URL.Path, r.Header)
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		worklogs <- body
		w.WriteHeader(http.StatusCreated)
	}))
	defer jira.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := os.MkdirTemp("/tmp", "msess")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sessions)
	cfgPath := filepath.Join(t.TempDir(), "mirrord.json")
	cfg := `{"target": {"path": "pod/api-0"}, "agent": {"startup_timeout": 30, "image": "registry.test/mirrord-agent:e2e"}, "internal_proxy": {"idle_timeout": 120}}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &session.Manager{Dir: sessions, Mirrord: self, Layer: testbin.Layer(t)}
	var progress []string
	type started struct {
		launch *session.Launch
		err    error
	}
	result := make(chan started, 1)
	startErr := make(chan error, 1)
	req := session.Request{
		ConfigPath: cfgPath,
		Env: map[string]string{
			"KUBECONFIG": c.Kubeconfig, envHandoffIntproxy: "1", "MIRRORD_TARGET_NAMESPACE": ns,
			"MIRRORD_BRANCH_NAME": "PROJ-7-cluster-sessions", "MIRRORD_AGENT_ADDRESS": "", "MIRRORD_AGENT_TOKEN": "",
			"MIRRORD_JIRA_URL": jira.URL, "MIRRORD_JIRA_EMAIL": "dev@example.com", "MIRRORD_JIRA_API_TOKEN": "t0ken",
			"MIRRORD_INTPROXY_LOG": filepath.Join(t.TempDir(), "intproxy.log"),
		},
		Progress: func(e session.Event) {
			if e.Kind == session.TaskFinished && e.Success {
				progress = append(progress, e.Task+": "+e.Message)
			}
		},
	}
	go func() {
		l, err := m.Start(ctx, req)
		if err != nil {
			startErr <- err
		}
		result <- started{l, err}
	}()
	runAgentPod(t, c, ns, pod, kubelet, startErr)
	r := <-result
	launch, err := r.launch, r.err
	if err != nil {
		t.Fatalf("start: %v\nprogress: %q", err, progress)
	}
	t.Logf("progress:\n%s", strings.Join(progress, "\n"))

	// The Job in the API server: pinned to the target's node, the branch
	// annotated, the token only in a Secret.
	jobs, err := c.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: agentpod.LabelSession + "=" + launch.SessionID})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("agent jobs %v %v", jobs, err)
	}
	job := jobs.Items[0]
	checkJob(t, &job, node, "containerd://api-0-app")

	// The debuggee.
	py := exec.CommandContext(ctx, "python3", "-c", fmt.Sprintf(`
import os, socket
print(os.environ.get("GREETING"))
print(socket.gethostbyname(%q))
`, agenttest.HostsName))
	py.Env = launchEnv(os.Environ(), &execution{Environment: launch.Environment, EnvToUnset: launch.EnvToUnset})
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	out, err := py.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, pyErr.String())
	}
	if want := "hello from the cluster\n" + agenttest.PeerIP.String() + "\n"; string(out) != want {
		t.Fatalf("python printed %q, want %q", out, want)
	}

	infos, err := m.List(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("sessions %+v %v", infos, err)
	}
	in := infos[0]
	if in.ID != launch.SessionID || in.Target != "pod/api-0" || in.Namespace != ns || in.Branch != "PROJ-7-cluster-sessions" ||
		in.Agent != "job/"+job.Name+" ("+ns+")" || in.Context == "" {
		t.Errorf("session info %+v", in)
	}
	// Two connections went through port-forward: Start's and the intproxy's.
	if reqs := kubelet.Requests(); len(reqs) < 2 || !strings.HasPrefix(reqs[0], ns+"/"+job.Name+"-") {
		t.Errorf("port-forward requests %v", reqs)
	}

	if err := m.Stop(ctx, launch.SessionID); err != nil {
		t.Fatal(err)
	}
	agenttest.WaitGone(t, launch.IntproxyPID)
	kubetest.Eventually(t, 30*time.Second, "agent Job and Secret removed", func(ctx context.Context) (bool, error) {
		_, jerr := c.Client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		_, serr := c.Client.CoreV1().Secrets(ns).Get(ctx, agentpod.SecretName(launch.SessionID), metav1.GetOptions{})
		return (apierrors.IsNotFound(jerr) || jobDeleting(ctx, c, ns, job.Name)) && apierrors.IsNotFound(serr), nil
	})
	select {
	case w := <-worklogs:
		comment, _ := json.Marshal(w["comment"])
		if w["timeSpentSeconds"] != float64(60) || !strings.Contains(string(comment), "pod/api-0") {
			t.Errorf("worklog %v", w)
		}
	case <-time.After(20 * time.Second):
		t.Error("no Jira worklog at the end of the session")
	}
}

func jobDeleting(ctx context.Context, c *kubetest.Cluster, ns, name string) bool {
	j, err := c.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	return err == nil && j.DeletionTimestamp != nil
}

func checkJob(t *testing.T, job *batchv1.Job, node, containerID string) {
	t.Helper()
	spec := job.Spec.Template.Spec
	ct := spec.Containers[0]
	if spec.NodeName != node || !spec.HostPID || ct.Image != "registry.test/mirrord-agent:e2e" ||
		job.Annotations[agentpod.AnnotationBranch] != "PROJ-7-cluster-sessions" || job.Annotations[agentpod.AnnotationTarget] != "pod/api-0" {
		t.Errorf("job node %q hostPID %v image %q annotations %v", spec.NodeName, spec.HostPID, ct.Image, job.Annotations)
	}
	if len(ct.Args) < 2 || ct.Args[0] != "--container-id" || ct.Args[1] != containerID {
		t.Errorf("args %v", ct.Args)
	}
	for _, e := range ct.Env {
		if e.Value != "" {
			t.Errorf("plain env value in the agent spec: %s", e.Name)
		}
	}
}
