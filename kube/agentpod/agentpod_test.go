package agentpod

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, func() int { return kubetest.Run(m) }))
}

// agentConfig resolves a config's agent section through the config engine.
func agentConfig(t *testing.T, text string) schema.AgentConfig {
	t.Helper()
	res := schema.Verify(context.Background(), []byte(text), schema.Options{Path: "mirrord.json", Env: func(string) (string, bool) { return "", false }})
	if res.HasErrors() || res.Config == nil {
		t.Fatalf("config: %+v", res.Diagnostics)
	}
	return res.Config.Agent
}

const fullAgentConfig = `{"agent": {
	"image": "registry.test/mirrord-agent:1.2.3",
	"image_pull_policy": "Always",
	"image_pull_secrets": [{"name": "regcred"}],
	"ttl": 30,
	"communication_timeout": 40,
	"log_level": "debug",
	"labels": {"team": "payments"},
	"annotations": {"owner": "alice"},
	"node_selector": {"type": "kwok"},
	"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "dev", "effect": "NoSchedule"}],
	"resources": {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "500m", "memory": "200Mi"}},
	"service_account": "agent-sa",
	"priority_class": "",
	"disabled_capabilities": ["SYS_ADMIN"]
}}`

// resolveTarget resolves a target with the real resolver.
func resolveTarget(t *testing.T, c *kubetest.Cluster, ns, path string) *Target {
	t.Helper()
	tp, err := targetpath.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &resolve.Resolver{Client: c.Client}
	res, err := r.Resolve(context.Background(), ns, tp)
	if err != nil {
		t.Fatal(err)
	}
	return &Target{Pod: res.Pod.Name, Namespace: ns, Node: res.NodeName, Container: res.Container, ContainerID: res.ContainerID}
}

func createServiceAccount(t *testing.T, c *kubetest.Cluster, ns, name string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The targeted Job for pod and deployment targets, asserted field by field
// as stored in the API server; its Secret holds the token and is owned by
// the Job; it becomes ready when kwok runs its pod; Delete removes both.
func TestTargetedJobSpec(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 2)
	ns := c.Namespace(t)
	createServiceAccount(t, c, ns, "agent-sa")
	c.CreatePod(t, ns, kubetest.Pod("api-0", map[string]string{"app": "api"}, nil, "istio-proxy", "app"))
	if _, err := c.Client.AppsV1().Deployments(ns).Create(context.Background(), kubetest.Deployment("web", 1, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitPodsReady(t, ns, "app=web", 1)
	c.SetContainerIDs(t, ns, "app=web")

	for _, tc := range []struct{ path, container string }{{"pod/api-0", "app"}, {"deployment/web", "web"}} {
		t.Run(tc.path, func(t *testing.T) {
			ctx := context.Background()
			target := resolveTarget(t, c, ns, tc.path)
			p, err := FromConfig(agentConfig(t, fullAgentConfig))
			if err != nil {
				t.Fatal(err)
			}
			p.SessionID = "0f1e2d3c-" + strings.ReplaceAll(tc.path, "/", "-")
			p.Namespace, p.Target, p.TargetPath, p.Branch = ns, target, tc.path, "PROJ-7-agents"
			p.Port = 40123
			a, ready := createAndWait(t, c, p, "s3cret-token")

			job, err := c.Client.BatchV1().Jobs(ns).Get(ctx, a.Job, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkTargetedJob(t, job, target, tc.container)

			secret, err := c.Client.CoreV1().Secrets(ns).Get(ctx, a.Secret, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if string(secret.Data[SecretKey]) != "s3cret-token" {
				t.Errorf("secret data %q", secret.Data)
			}
			if len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].Kind != "Job" || secret.OwnerReferences[0].UID != job.UID {
				t.Errorf("secret owners %+v", secret.OwnerReferences)
			}

			if err := <-ready; err != nil {
				t.Fatalf("wait ready: %v", err)
			}
			pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, a.Pod, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pod.Spec.NodeName != target.Node || !pod.Spec.HostPID || pod.Spec.ServiceAccountName != "agent-sa" {
				t.Errorf("agent pod node %q hostPID %v sa %q", pod.Spec.NodeName, pod.Spec.HostPID, pod.Spec.ServiceAccountName)
			}

			if err := a.Delete(ctx, c.Client); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Client.CoreV1().Secrets(ns).Get(ctx, a.Secret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("secret after delete: %v", err)
			}
			kubetest.Eventually(t, 30*time.Second, "agent job gone", func(ctx context.Context) (bool, error) {
				_, err := c.Client.BatchV1().Jobs(ns).Get(ctx, a.Job, metav1.GetOptions{})
				return apierrors.IsNotFound(err), nil
			})
		})
	}
}

func checkTargetedJob(t *testing.T, job *batchv1.Job, target *Target, container string) {
	t.Helper()
	if job.Labels[LabelApp] != "mirrord" || job.Labels["team"] != "payments" || job.Labels[LabelSession] == "" {
		t.Errorf("job labels %v", job.Labels)
	}
	if job.Annotations["owner"] != "alice" || job.Annotations[AnnotationBranch] != "PROJ-7-agents" || job.Annotations[AnnotationTarget] == "" {
		t.Errorf("job annotations %v", job.Annotations)
	}
	if job.Spec.TTLSecondsAfterFinished == nil || *job.Spec.TTLSecondsAfterFinished != 30 {
		t.Errorf("ttlSecondsAfterFinished %v", job.Spec.TTLSecondsAfterFinished)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v", job.Spec.BackoffLimit)
	}
	spec := job.Spec.Template.Spec
	if spec.NodeName != target.Node || spec.NodeName == "" {
		t.Errorf("nodeName %q, want the target's node %q", spec.NodeName, target.Node)
	}
	if !spec.HostPID {
		t.Error("hostPID not set")
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever || spec.ServiceAccountName != "agent-sa" {
		t.Errorf("restartPolicy %q serviceAccount %q", spec.RestartPolicy, spec.ServiceAccountName)
	}
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("imagePullSecrets %v", spec.ImagePullSecrets)
	}
	if spec.NodeSelector["type"] != "kwok" || len(spec.NodeSelector) != 1 {
		t.Errorf("nodeSelector %v", spec.NodeSelector)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" || spec.Tolerations[0].Value != "dev" ||
		spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule || spec.Tolerations[0].Operator != corev1.TolerationOpEqual {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	if tl := job.Spec.Template.Labels; tl[LabelApp] != "mirrord" || tl["team"] != "payments" {
		t.Errorf("pod template labels %v", tl)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("containers %+v", spec.Containers)
	}
	ct := spec.Containers[0]
	if ct.Name != ContainerName || ct.Image != "registry.test/mirrord-agent:1.2.3" || ct.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("container %s image %s policy %s", ct.Name, ct.Image, ct.ImagePullPolicy)
	}
	wantArgs := []string{"--container-id", target.ContainerID, "--listen", "127.0.0.1:40123", "--communication-timeout", "40s", "--log-level", "debug"}
	if !slices.Equal(ct.Args, wantArgs) || !slices.Equal(ct.Command, []string{Command}) {
		t.Errorf("command %v args %v, want %v", ct.Command, ct.Args, wantArgs)
	}
	if !strings.HasPrefix(target.ContainerID, "containerd://") {
		t.Errorf("target container id %q", target.ContainerID)
	}
	if target.Container != container {
		t.Errorf("target container %q, want %q", target.Container, container)
	}
	if ct.SecurityContext == nil || ct.SecurityContext.Capabilities == nil ||
		!slices.Equal(ct.SecurityContext.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW", "SYS_PTRACE"}) {
		t.Errorf("capabilities %+v (SYS_ADMIN is disabled)", ct.SecurityContext)
	}
	if ct.SecurityContext.Privileged != nil {
		t.Errorf("privileged set: %v", *ct.SecurityContext.Privileged)
	}
	checkTokenEnv(t, ct.Env, job.Name+"-token")
	wantRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("20Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("200Mi")},
	}
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		gotReq, gotLim := ct.Resources.Requests[n], ct.Resources.Limits[n]
		if gotReq.Cmp(wantRes.Requests[n]) != 0 || gotLim.Cmp(wantRes.Limits[n]) != 0 {
			t.Errorf("resources %+v", ct.Resources)
		}
	}
}

// checkTokenEnv: the token is only referenced (secretKeyRef), never a value.
func checkTokenEnv(t *testing.T, env []corev1.EnvVar, secret string) {
	t.Helper()
	if len(env) != 1 || env[0].Name != TokenEnv || env[0].Value != "" || env[0].ValueFrom == nil ||
		env[0].ValueFrom.SecretKeyRef == nil || env[0].ValueFrom.SecretKeyRef.Name != secret || env[0].ValueFrom.SecretKeyRef.Key != SecretKey {
		t.Errorf("token env %+v", env)
	}
}

// Targetless: a plain Job in the agent namespace, no node, no hostPID, no
// capabilities, mirrord's default tolerations and resources.
func TestTargetlessJobSpec(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 1)
	ns := c.Namespace(t)
	ctx := context.Background()
	// kwok-node-0 is a node kwok runs pods on (other nodes may exist).
	p, err := FromConfig(agentConfig(t, `{"agent": {"ttl": 5, "node_selector": {"kubernetes.io/hostname": "kwok-node-0"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p.SessionID, p.Namespace, p.Port = "targetless-1", ns, 31000
	a, ready := createAndWait(t, c, p, "tok")
	job, err := c.Client.BatchV1().Jobs(ns).Get(ctx, a.Job, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := job.Spec.Template.Spec
	if spec.NodeName != "" || spec.HostPID {
		t.Errorf("targetless job pinned: node %q hostPID %v", spec.NodeName, spec.HostPID)
	}
	if *job.Spec.TTLSecondsAfterFinished != 5 {
		t.Errorf("ttl %d", *job.Spec.TTLSecondsAfterFinished)
	}
	ct := spec.Containers[0]
	if !slices.Equal(ct.Args, []string{"targetless", "--listen", "127.0.0.1:31000", "--log-level", "info"}) {
		t.Errorf("args %v", ct.Args)
	}
	if ct.Image != schema.DefaultAgentImageRef() || ct.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s policy %s", ct.Image, ct.ImagePullPolicy)
	}
	if ct.SecurityContext != nil && ct.SecurityContext.Capabilities != nil {
		t.Errorf("targetless agent has capabilities %+v", ct.SecurityContext.Capabilities)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("default tolerations %+v", spec.Tolerations)
	}
	def := DefaultResources()
	if ct.Resources.Limits.Memory().Cmp(*def.Limits.Memory()) != 0 || ct.Resources.Requests.Cpu().Cmp(*def.Requests.Cpu()) != 0 {
		t.Errorf("default resources %+v", ct.Resources)
	}
	checkTokenEnv(t, ct.Env, SecretName("targetless-1"))
	if err := <-ready; err != nil {
		t.Fatalf("targetless agent not ready: %v", err)
	}
}

// createAndWait creates the agent and starts waiting for it at once, as
// Start does: kwok runs a Job's pod and then completes it immediately
// (its pod-complete stage), so the wait must be watching before the pod
// exists to see it running.
func createAndWait(t *testing.T, c *kubetest.Cluster, p Params, token string) (*Agent, <-chan error) {
	t.Helper()
	a, err := Create(context.Background(), c.Client, p, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
	ready := make(chan error, 1)
	waiter := *a
	go func() { ready <- waiter.WaitReady(context.Background(), c.Client, 60*time.Second) }()
	return &waiter, ready
}

// agent.ephemeral: an ephemeral container of the target pod, sharing the
// target container's process namespace; ready when its status runs.
func TestEphemeralContainerSpec(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 1)
	ns := c.Namespace(t)
	ctx := context.Background()
	c.CreatePod(t, ns, kubetest.Pod("api-0", nil, nil, "app"))
	target := resolveTarget(t, c, ns, "pod/api-0")
	p, err := FromConfig(agentConfig(t, `{"target": "pod/api-0", "agent": {"ephemeral": true, "image": "registry.test/agent:2", "disabled_capabilities": ["net_raw"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ephemeral {
		t.Fatal("ephemeral not read from the config")
	}
	p.SessionID, p.Namespace, p.Target, p.Port = "eph-1", "ignored-for-ephemeral", target, 45000
	a, err := Create(ctx, c.Client, p, "tok")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
	if a.Namespace != ns || a.Job != "" || a.Pod != "api-0" {
		t.Fatalf("agent %+v", a)
	}
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, "api-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.EphemeralContainers) != 1 {
		t.Fatalf("ephemeral containers %+v", pod.Spec.EphemeralContainers)
	}
	ec := pod.Spec.EphemeralContainers[0]
	if ec.Name != a.Container || ec.TargetContainerName != "app" || ec.Image != "registry.test/agent:2" {
		t.Errorf("ephemeral container %s target %s image %s", ec.Name, ec.TargetContainerName, ec.Image)
	}
	if !slices.Equal(ec.Args, []string{"--pid", "1", "--listen", "127.0.0.1:45000", "--log-level", "info"}) {
		t.Errorf("args %v", ec.Args)
	}
	if !slices.Equal(ec.SecurityContext.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "SYS_PTRACE", "SYS_ADMIN"}) {
		t.Errorf("capabilities %v", ec.SecurityContext.Capabilities.Add)
	}
	checkTokenEnv(t, ec.Env, SecretName("eph-1"))
	secret, err := c.Client.CoreV1().Secrets(ns).Get(ctx, a.Secret, metav1.GetOptions{})
	if err != nil || len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != pod.UID {
		t.Fatalf("secret %v owners %+v", err, secret)
	}

	// kwok does not run ephemeral containers: report it running ourselves.
	done := make(chan error, 1)
	go func() { done <- a.WaitReady(ctx, c.Client, 30*time.Second) }()
	setStatus(t, c, ns, "api-0", func(p *corev1.Pod) {
		p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{
			Name: ec.Name, Image: ec.Image,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		}}
	})
	if err := <-done; err != nil {
		t.Fatalf("ephemeral agent not ready: %v", err)
	}
}

// setStatus changes a pod's status through the status subresource.
func setStatus(t *testing.T, c *kubetest.Cluster, ns, name string, f func(*corev1.Pod)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		f(p)
		_, err = c.Client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update status of %s: %v", name, err)
	}
}

// unmanagedNode is a node kwok does not manage: pods bound to it stay
// Pending until a test writes their status.
const unmanagedNode = "agentpod-unmanaged-node"

func ensureUnmanagedNode(t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	// Tainted and cordoned so that no other test's pod is scheduled there.
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: unmanagedNode, Labels: map[string]string{"type": "unmanaged"}},
		Spec:       corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{{Key: "mirrord-ls.dev/unmanaged", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if _, err := c.Client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// Readiness: a pod that runs is ready; an image that cannot be pulled fails at once with
// ErrImagePull; a pod that never runs times out; an unschedulable pod times
// out saying why.
func TestWaitReady(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 1)
	ensureUnmanagedNode(t, c)
	ns := c.Namespace(t)
	ctx := context.Background()
	pinned := func(id string) Params {
		p, err := FromConfig(agentConfig(t, `{"agent": {"image": "registry.test/does-not-exist:0"}}`))
		if err != nil {
			t.Fatal(err)
		}
		p.SessionID, p.Namespace = id, ns
		p.Target = &Target{Pod: "x", Namespace: ns, Node: unmanagedNode, Container: "app", ContainerID: "containerd://abc"}
		return p
	}

	for _, reason := range []string{"ErrImagePull", "ImagePullBackOff"} {
		t.Run(reason, func(t *testing.T) {
			a, err := Create(ctx, c.Client, pinned("pull-"+strings.ToLower(reason)), "tok")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- a.WaitReady(ctx, c.Client, 60*time.Second) }()
			pod := waitAgentPod(t, c, ns, a.Job)
			setStatus(t, c, ns, pod, func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{
					Name: ContainerName, Image: "registry.test/does-not-exist:0",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "pull access denied"}},
				}}
			})
			err = <-done
			if !errors.Is(err, ErrImagePull) || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "registry.test/does-not-exist:0") {
				t.Fatalf("err = %v", err)
			}
			if time.Since(start) > 30*time.Second {
				t.Errorf("image pull failure took %v to report", time.Since(start))
			}
		})
	}

	// A pod that kwok does not touch: the test reports it Running and its
	// container ready, after a while in ContainerCreating.
	t.Run("ready", func(t *testing.T) {
		a, err := Create(ctx, c.Client, pinned("becomes-ready"), "tok")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
		done := make(chan error, 1)
		go func() { done <- a.WaitReady(ctx, c.Client, 60*time.Second) }()
		pod := waitAgentPod(t, c, ns, a.Job)
		setStatus(t, c, ns, pod, func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: a.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
		})
		select {
		case err := <-done:
			t.Fatalf("ready while the container is being created: %v", err)
		default:
		}
		setStatus(t, c, ns, pod, func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: a.Image, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
		})
		if err := <-done; err != nil {
			t.Fatalf("not ready: %v", err)
		}
		if a.Pod != pod {
			t.Errorf("agent pod %q, want %q", a.Pod, pod)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		a, err := Create(ctx, c.Client, pinned("never-runs"), "tok")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
		err = a.WaitReady(ctx, c.Client, 3*time.Second)
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "startup_timeout") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("unschedulable", func(t *testing.T) {
		p, err := FromConfig(agentConfig(t, `{"agent": {"node_selector": {"no-such-label": "anywhere"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		p.SessionID, p.Namespace = "unschedulable", ns
		a, err := Create(ctx, c.Client, p, "tok")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
		err = a.WaitReady(ctx, c.Client, 5*time.Second)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrUnschedulable) || !strings.Contains(err.Error(), "node") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		a, err := Create(ctx, c.Client, pinned("cancelled"), "tok")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Delete(context.Background(), c.Client) })
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := a.WaitReady(cctx, c.Client, time.Minute); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// waitAgentPod waits until the Job created its pod and returns its name.
func waitAgentPod(t *testing.T, c *kubetest.Cluster, ns, job string) string {
	t.Helper()
	var pod string
	kubetest.Eventually(t, 30*time.Second, "agent pod of "+job, func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
		if err != nil || len(list.Items) == 0 {
			return false, err
		}
		pod = list.Items[0].Name
		return true, nil
	})
	return pod
}

func TestCapabilitiesAndNames(t *testing.T) {
	for _, tc := range []struct {
		disabled []string
		want     []corev1.Capability
	}{
		{nil, DefaultCapabilities},
		{[]string{"SYS_ADMIN"}, []corev1.Capability{"NET_ADMIN", "NET_RAW", "SYS_PTRACE"}},
		{[]string{"cap_net_admin", "sys_ptrace"}, []corev1.Capability{"NET_RAW", "SYS_ADMIN"}},
		{[]string{"NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_ADMIN"}, nil},
	} {
		p := Params{DisabledCapabilities: tc.disabled}
		if got := p.Capabilities(); !slices.Equal(got, tc.want) {
			t.Errorf("disabled %v: %v, want %v", tc.disabled, got, tc.want)
		}
	}
	if n := Name("5B0E7A1C-0000-4000-8000-000000000000"); n != "mirrord-agent-5b0e7a1c0000" {
		t.Errorf("name %q", n)
	}
	if v := labelValue("-a/b c_d." + strings.Repeat("x", 80)); len(v) > 63 || strings.HasPrefix(v, "-") {
		t.Errorf("label value %q", v)
	}
	bad := schema.AgentConfig{Resources: schema.ResourceRequirements{Limits: map[string]string{"cpu": "lots"}}}
	if _, err := FromConfig(bad); err == nil || !strings.Contains(err.Error(), "agent.resources") {
		t.Errorf("bad resources: %v", err)
	}
}
