package portforward_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod/kubelettest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session"
)

// fakeNode plays the kubelet of a node the local control plane does not
// run (kwok leaves it alone): target pods bound to it get a Running status
// and each its own network-namespace "pod" (in order of appearance); agent
// pods get a real agent, started in the namespace of the target their
// container id names, with the token of their Secret, and the fake
// kubelet's port-forward is pointed at it.
type fakeNode struct {
	t       *testing.T
	c       *kubetest.Cluster
	ns      string
	kubelet *kubelettest.Kubelet
	name    string
	netns   []*agenttest.Pod

	mu      sync.Mutex
	targets map[string]int // target pod name -> index in netns
	agents  map[string]string
}

func newFakeNode(t *testing.T, c *kubetest.Cluster, ns string, netns []*agenttest.Pod) *fakeNode {
	k := kubelettest.Start(t, "")
	n := &fakeNode{t: t, c: c, ns: ns, kubelet: k, name: k.Node(t, c.Client), netns: netns,
		targets: map[string]int{}, agents: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			n.round(ctx)
			time.Sleep(30 * time.Millisecond)
		}
	}()
	return n
}

func (n *fakeNode) round(ctx context.Context) {
	pods, err := n.c.Client.CoreV1().Pods(n.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName != n.name || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
			continue
		}
		if p.Labels[agentpod.LabelApp] == agentpod.AppValue {
			n.runAgent(ctx, p)
			continue
		}
		n.mu.Lock()
		idx, ok := n.targets[p.Name]
		if !ok {
			idx = len(n.targets)
			n.targets[p.Name] = idx
		}
		n.mu.Unlock()
		if idx >= len(n.netns) {
			n.t.Errorf("fake node: no network namespace left for pod %s", p.Name)
			continue
		}
		if err := podRunning(ctx, n.c, n.ns, p.Name); err != nil && ctx.Err() == nil {
			n.t.Errorf("fake node: %s running: %v", p.Name, err)
		}
	}
}

// runAgent starts the agent of an agent pod in its target's namespace.
func (n *fakeNode) runAgent(ctx context.Context, p *corev1.Pod) {
	n.mu.Lock()
	_, started := n.agents[p.Name]
	n.mu.Unlock()
	if started {
		return
	}
	ct := p.Spec.Containers[0]
	i := slices.Index(ct.Args, "--container-id")
	if i < 0 || i+1 >= len(ct.Args) {
		n.t.Errorf("fake node: agent pod %s has no --container-id: %v", p.Name, ct.Args)
		return
	}
	// Container ids are containerd://<pod>-<container> (podRunning).
	target := strings.TrimSuffix(strings.TrimPrefix(ct.Args[i+1], "containerd://"), "-app")
	n.mu.Lock()
	idx, ok := n.targets[target]
	n.mu.Unlock()
	if !ok {
		n.t.Errorf("fake node: agent pod %s targets unknown pod %s", p.Name, target)
		return
	}
	ref := ct.Env[0].ValueFrom.SecretKeyRef
	secret, err := n.c.Client.CoreV1().Secrets(n.ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return // created right after the Job; next round
	}
	a := agenttest.StartAgent(n.t, n.netns[idx], agenttest.AgentOptions{Token: string(secret.Data[ref.Key])})
	n.mu.Lock()
	n.agents[p.Name] = target
	n.mu.Unlock()
	n.kubelet.SetPodTarget(n.ns, p.Name, a.Addr)
	if err := podRunning(ctx, n.c, n.ns, p.Name); err != nil && ctx.Err() == nil {
		n.t.Errorf("fake node: agent pod %s running: %v", p.Name, err)
	}
}

// agentTargets lists, for each agent pod started so far, its target pod.
func (n *fakeNode) agentTargets() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, t := range n.agents {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// podRunning writes a Running, Ready status with container ids, as a
// kubelet would.
func podRunning(ctx context.Context, c *kubetest.Cluster, ns, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP, p.Status.PodIPs = agenttest.PodIP.String(), []corev1.PodIP{{IP: agenttest.PodIP.String()}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
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

// liveAgentJobs lists the agent Jobs in ns that are not being deleted,
// and the agent Secrets.
func liveAgentJobs(ctx context.Context, c *kubetest.Cluster, ns string) ([]string, []string, error) {
	sel := metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue}
	jobs, err := c.Client.BatchV1().Jobs(ns).List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	var js, ss []string
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			js = append(js, j.Name)
		}
	}
	secrets, err := c.Client.CoreV1().Secrets(ns).List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range secrets.Items {
		ss = append(ss, s.Name)
	}
	return js, ss, nil
}

// TestSelfHealingCreatesAgents: the forwarder's agents come from the
// session starter (session.Agents → session.StartAgent), as in `mirrord
// port-forward` without agent.address: an agent Job for the deployment's
// pod; when the pod is deleted, a new agent Job for the replacement pod,
// the old one deleted; at the end, none left.
func TestSelfHealingCreatesAgents(t *testing.T) {
	agenttest.RequireRoot(t)
	var netns []*agenttest.Pod
	for i := range 2 {
		pod := newPodWithoutAgent(t)
		serveBanner(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)), fmt.Sprintf("pod-%d", i))
		netns = append(netns, pod)
	}
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	node := newFakeNode(t, c, ns, netns)
	ctx := context.Background()
	dep := kubetest.Deployment("web", 1, "app")
	dep.Spec.Template.Spec.NodeName = node.name
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := newReadyPod(t, c, ns, "app=web", nil)

	cfg := filepath.Join(t.TempDir(), "mirrord.json")
	if err := os.WriteFile(cfg, []byte(`{"agent": {"image": "registry.test/mirrord-agent:pf", "startup_timeout": 30}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := session.ResolveConfig(ctx, session.Request{ConfigPath: cfg, Target: "deployment/web", Env: map[string]string{
		"KUBECONFIG": c.Kubeconfig, "MIRRORD_TARGET_NAMESPACE": ns, "MIRRORD_AGENT_ADDRESS": "", "MIRRORD_AGENT_TOKEN": "",
	}})
	if err != nil {
		t.Fatal(err)
	}
	kube, err := rc.Kube()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deleted []string
	agents := &session.Agents{Kube: kube, Resolved: rc, Info: protocol.ClientInfo{Name: "portforward-test"},
		Deleted: func(a *session.Agent, err error) {
			if err != nil {
				t.Errorf("deleting %s: %v", a.Created.Job, err)
			}
			mu.Lock()
			deleted = append(deleted, a.Created.Job)
			mu.Unlock()
		}}
	tracker := &portforward.KubeTracker{Client: kube.Client, Resolver: kube.Resolver(), Namespace: kube.Namespace,
		Path: targetpath.Target{Kind: targetpath.Deployment, Name: "web"}}
	r := start(t, portforward.Config{
		Routes:  portforward.Routes{Local: []portforward.LocalRoute{{Host: "db", RemotePort: peerPort}}},
		Tracker: tracker, Agents: agents,
	}, portforward.Quiet)
	if got, err := ask(r.LocalAddr(0).String(), "hi"); err != nil || got != "pod-0: hi" {
		t.Fatalf("first pod: %q, %v\n%s", got, err, r.report.String())
	}
	jobs, _, err := liveAgentJobs(ctx, c, ns)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("agent jobs %v %v", jobs, err)
	}
	firstJob := jobs[0]

	zero := int64(0)
	t0 := time.Now()
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, first, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	d := healed(t, r, "pod-1", t0)
	t.Logf("a new agent served the replacement pod %s after %s", node.agentTargets(), d.Round(time.Millisecond))
	kubetest.Eventually(t, 30*time.Second, "the first pod's agent deleted, the second's alive", func(ctx context.Context) (bool, error) {
		jobs, _, err := liveAgentJobs(ctx, c, ns)
		return err == nil && len(jobs) == 1 && jobs[0] != firstJob, err
	})
	if got := node.agentTargets(); len(got) != 2 || !slices.Contains(got, first) {
		t.Errorf("agents were started for %v, want %s and its replacement", got, first)
	}

	r.stop(t)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := agents.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if jobs, secrets, err := liveAgentJobs(ctx, c, ns); err != nil || len(jobs) != 0 || len(secrets) != 0 {
		t.Errorf("left behind: jobs %v secrets %v %v", jobs, secrets, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deleted) != 2 || deleted[0] != firstJob {
		t.Errorf("deleted %v, want %s first and then the second agent", deleted, firstJob)
	}
}

// newPodWithoutAgent is a namespace "pod" whose agents the test starts
// later (for agent Jobs).
func newPodWithoutAgent(t *testing.T) *agenttest.Pod {
	t.Helper()
	agenttest.RequireRoot(t)
	testbin.Dir(t) // points agenttest at the agent binary
	return agenttest.NewPod(t, agenttest.PodOptions{})
}

// TestCLICreatesAgents: the real `mirrord port-forward -t deployment/web`
// without agent.address creates the agent for the deployment's pod (the
// image from -i), forwards, and deletes the agent when interrupted.
func TestCLICreatesAgents(t *testing.T) {
	agenttest.RequireRoot(t)
	pod := newPodWithoutAgent(t)
	serveBanner(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)), "peer")
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	node := newFakeNode(t, c, ns, []*agenttest.Pod{pod})
	ctx := context.Background()
	dep := kubetest.Deployment("web", 1, "app")
	dep.Spec.Template.Spec.NodeName = node.name
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newReadyPod(t, c, ns, "app=web", nil)

	lport := freePort(t)
	cmd := exec.Command(mirrordBinary(t), "port-forward", "-t", "deployment/web", "-n", ns, "-i", "registry.test/mirrord-agent:cli",
		"-L", fmt.Sprintf("%d:db:%d", lport, peerPort))
	cmd.Env = append(environWithout("MIRRORD_AGENT_ADDRESS", "MIRRORD_AGENT_TOKEN", "MIRRORD_CONFIG_FILE", "KUBECONFIG", "MIRRORD_AGENT_IMAGE"),
		"KUBECONFIG="+c.Kubeconfig)
	run := &cliRun{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = run.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(run.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-run.done
	})
	run.stderr.waitFor(t, fmt.Sprintf("-L 127.0.0.1:%d -> db:%d ready", lport, peerPort), 60*time.Second)
	if got, err := ask(fmt.Sprintf("127.0.0.1:%d", lport), "hi"); err != nil || got != "peer: hi" {
		t.Fatalf("-L: %q, %v\n%s", got, err, run.stderr.String())
	}
	for _, want := range []string{"starting agent: agent Job mirrord-agent-", "(image registry.test/mirrord-agent:cli)", "connecting to agent: connected"} {
		if !strings.Contains(run.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, run.stderr.String())
		}
	}
	if jobs, _, err := liveAgentJobs(ctx, c, ns); err != nil || len(jobs) != 1 {
		t.Fatalf("agent jobs while forwarding: %v %v", jobs, err)
	}
	if code := run.interrupt(t); code != 0 {
		t.Fatalf("exit code %d after SIGINT:\n%s", code, run.stderr.String())
	}
	if jobs, secrets, err := liveAgentJobs(ctx, c, ns); err != nil || len(jobs) != 0 || len(secrets) != 0 {
		t.Errorf("left behind after SIGINT: jobs %v secrets %v %v\n%s", jobs, secrets, err, run.stderr.String())
	}
	if !strings.Contains(run.stderr.String(), "deleted") {
		t.Errorf("no deletion reported:\n%s", run.stderr.String())
	}
}
