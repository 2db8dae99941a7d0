package realnode

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mirrord-ls/mirrord-ls/agent/target"
	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(testbin.Run(m, func() int { return kubetest.Run(m) })) }

// Workload names of the shared fixture.
const (
	apiName    = "api"    // Deployment + Service api:80 -> 8080
	ordersName = "orders" // Deployment + Service orders:80 -> 8080, only reachable in the cluster
	dbName     = "db"     // StatefulSet
	batchName  = "batch"  // Job
	duoName    = "duo"    // bare pod with two containers
	echoName   = "echo"   // Deployment: a TCP echo server on echoPort (benchmarks)
	echoPort   = 9000
	appPort    = 8080
	// podGreeting is the target's APP_GREETING variable.
	podGreeting = "hello-from-the-pod"
	// podFile is a file only the target's container has.
	podFile     = "/app/data/pod-only.txt"
	podFileText = "this file lives in the pod"
)

// fixture is the namespace and workloads every test of the package shares
// (sequential tests; each cleans up what it creates).
type fixture struct {
	c      *kubetest.Cluster
	node   kubetest.RealNode
	images kubetest.Images
	ns     string
	// kubeconfig is the admin kubeconfig with ns as its namespace.
	kubeconfig string
	// kubectl is the kubectl built with the cluster.
	kubectl string
	dir     string
}

var shared struct {
	once sync.Once
	f    *fixture
	err  error
}

// setup returns the shared fixture, creating it on first use.
func setup(t testing.TB) *fixture {
	t.Helper()
	c := kubetest.Start(t)
	node := c.RealNode(t)
	images := c.Images(t)
	testbin.Dir(t)
	shared.once.Do(func() {
		shared.f, shared.err = newFixture(c, node, images)
	})
	if shared.err != nil {
		t.Fatalf("real-node fixture: %v", shared.err)
	}
	return shared.f
}

func newFixture(c *kubetest.Cluster, node kubetest.RealNode, images kubetest.Images) (*fixture, error) {
	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	f := &fixture{c: c, node: node, images: images, ns: "realnode-" + hex.EncodeToString(suffix[:]),
		kubectl: filepath.Join(c.Bin, "kubectl")}
	dir, err := os.MkdirTemp("", "mirrord-realnode-")
	if err != nil {
		return nil, err
	}
	f.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns, Labels: map[string]string{"mirrord-ls-test": "true"}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace: %w", err)
	}
	kubetest.AtExit(f.teardown)
	kc, err := os.ReadFile(c.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	f.kubeconfig = filepath.Join(dir, "kubeconfig")
	if !bytes.Contains(kc, []byte("namespace: default")) {
		return nil, fmt.Errorf("%s: no namespace in its context", c.AdminKubeconfig)
	}
	if err := os.WriteFile(f.kubeconfig, bytes.Replace(kc, []byte("namespace: default"), []byte("namespace: "+f.ns), 1), 0o600); err != nil {
		return nil, err
	}
	if err := waitServiceAccount(ctx, c, f.ns); err != nil {
		return nil, err
	}
	apps := c.Client.AppsV1().Deployments(f.ns)
	for _, name := range []string{apiName, ordersName} {
		if _, err := apps.Create(ctx, f.deployment(name), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create deployment %s: %w", name, err)
		}
		if _, err := c.Client.CoreV1().Services(f.ns).Create(ctx, service(name), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create service %s: %w", name, err)
		}
	}
	one := int32(1)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: dbName},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &one, ServiceName: dbName,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": dbName}},
			Template: f.podTemplate(dbName),
		},
	}
	if _, err := c.Client.AppsV1().StatefulSets(f.ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create statefulset: %w", err)
	}
	jobTemplate := f.podTemplate(batchName)
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: batchName}, Spec: batchv1.JobSpec{Template: jobTemplate}}
	if _, err := c.Client.BatchV1().Jobs(f.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create job: %w", err)
	}
	duo := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: duoName, Labels: map[string]string{"app": duoName}},
		Spec: node.PodSpec(f.appContainer("main", "main-container"), f.appContainer("side", "side-container"))}
	duo.Spec.Containers[1].Command = []string{"sh", "-c", "mkdir -p /app/data && echo \"$POD_FILE_TEXT\" > " + podFile + " && exec sleep 86400"}
	duo.Spec.Containers[1].Ports, duo.Spec.Containers[1].ReadinessProbe = nil, nil
	duo.Spec.Containers[1].Env = append(duo.Spec.Containers[1].Env, corev1.EnvVar{Name: "SIDE_ONLY", Value: "yes"})
	if _, err := c.Client.CoreV1().Pods(f.ns).Create(ctx, duo, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create pod duo: %w", err)
	}
	echo := f.deployment(echoName)
	ec := &echo.Spec.Template.Spec.Containers[0]
	ec.Command = []string{"nc", "-ll", "-p", fmt.Sprint(echoPort), "-e", "cat"}
	ec.Ports = []corev1.ContainerPort{{Name: "echo", ContainerPort: echoPort}}
	ec.ReadinessProbe = nil
	if _, err := apps.Create(ctx, echo, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create deployment echo: %w", err)
	}
	for _, app := range []string{apiName, ordersName, dbName, batchName, duoName, echoName} {
		if err := waitReady(ctx, c, f.ns, "app="+app); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *fixture) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	zero := int64(0)
	_ = f.c.Client.CoreV1().Namespaces().Delete(ctx, f.ns, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	_ = f.c.Client.CoreV1().Pods(f.ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	os.RemoveAll(f.dir)
}

// appScript starts the workload: a pod-only file, a page naming the pod,
// a CGI page that answers the client's address, busybox httpd on appPort.
const appScript = `set -e
mkdir -p /app/data /www/cgi-bin
echo "$POD_FILE_TEXT" > ` + podFile + `
echo "from-pod $HOSTNAME" > /www/index.html
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "remote=$REMOTE_ADDR pod=$HOSTNAME"\n' > /www/cgi-bin/whoami
chmod +x /www/cgi-bin/whoami
exec httpd -f -p 8080 -h /www`

func (f *fixture) appContainer(name, role string) corev1.Container {
	return corev1.Container{
		Name: name, Image: f.images.Busybox, ImagePullPolicy: corev1.PullNever,
		Command: []string{"sh", "-c", appScript},
		Env: []corev1.EnvVar{
			{Name: "APP_GREETING", Value: podGreeting},
			{Name: "APP_ROLE", Value: role},
			{Name: "POD_FILE_TEXT", Value: podFileText},
		},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(appPort)}},
			PeriodSeconds: 1,
		},
	}
}

func (f *fixture) podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       f.node.PodSpec(f.appContainer("app", app)),
	}
}

func (f *fixture) deployment(name string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: f.podTemplate(name),
		},
	}
}

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(appPort)}},
		},
	}
}

func waitServiceAccount(ctx context.Context, c *kubetest.Cluster, ns string) error {
	for {
		if _, err := c.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s: no default ServiceAccount: %w", ns, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReady waits until a pod matching selector is Ready and returns it.
func waitReady(ctx context.Context, c *kubetest.Cluster, ns, selector string) error {
	_, err := readyPod(ctx, c, ns, selector)
	return err
}

func readyPod(ctx context.Context, c *kubetest.Cluster, ns, selector string) (*corev1.Pod, error) {
	var last string
	for {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			last = fmt.Sprintf("%d pods", len(list.Items))
			for i := range list.Items {
				p := &list.Items[i]
				if p.DeletionTimestamp == nil && isReady(p) {
					return p, nil
				}
				last = describePod(p)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no ready pod for %s in %s: %s: %w", selector, ns, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describePod(p *corev1.Pod) string {
	s := fmt.Sprintf("%s phase=%s", p.Name, p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf(" %s waiting %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(" %s terminated %s exit %d", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return s
}

// run runs a command with a deadline and returns its combined output.
func run(t testing.TB, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %s: %w", name, strings.Join(args, " "), timeout, ctx.Err())
	}
	return string(out), err
}

// kubectlRun runs the cluster's kubectl in the fixture's namespace.
func (f *fixture) kubectlRun(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return run(t, 60*time.Second, nil, f.kubectl, append([]string{"--kubeconfig", f.c.AdminKubeconfig, "-n", f.ns}, args...)...)
}

// podExec runs sh -c script in a pod's container through kubectl exec.
func (f *fixture) podExec(t testing.TB, target, script string) (string, error) {
	t.Helper()
	// The container is named: an agent's ephemeral container left in the
	// pod spec (they cannot be removed) would make kubectl say which one it
	// picked, on the output the tests read.
	return f.kubectlRun(t, "exec", target, "-c", "app", "--", "sh", "-c", script)
}

// agentsGone waits until no agent pod, Job or Secret of ns's sessions is
// left, and fails the test otherwise.
func (f *fixture) agentsGone(t testing.TB, namespaces ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue}
	var left string
	for {
		left = ""
		for _, ns := range namespaces {
			pods, err := f.c.Client.CoreV1().Pods(ns).List(ctx, sel)
			if err == nil {
				for _, p := range pods.Items {
					left += " pod/" + p.Name
				}
			}
			jobs, err := f.c.Client.BatchV1().Jobs(ns).List(ctx, sel)
			if err == nil {
				for _, j := range jobs.Items {
					left += " job/" + j.Name
				}
			}
		}
		if left == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("agent objects left behind:%s", left)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// iptablesClean checks that no mirrord chain is left in the network
// namespace of the pod matching selector (read through the pod's process:
// nsenter into it from the host, which is the node).
func (f *fixture) iptablesClean(t testing.TB, selector string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := readyPod(ctx, f.c, f.ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := containerPID(p)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	for {
		o, err := run(t, 10*time.Second, nil, "nsenter", "-t", fmt.Sprint(pid), "-n", "iptables-save")
		if err != nil {
			// the process found in the container can be a short-lived
			// one that is gone by now: find one again, until the deadline
			if ctx.Err() != nil {
				t.Fatalf("iptables-save in pod %s: %v\n%s", p.Name, err, o)
			}
			time.Sleep(100 * time.Millisecond)
			if np, err := readyPod(ctx, f.c, f.ns, selector); err == nil {
				if n, err := containerPID(np); err == nil {
					p, pid = np, n
				}
			}
			continue
		}
		o2, _ := run(t, 10*time.Second, nil, "nsenter", "-t", fmt.Sprint(pid), "-n", "ip6tables-save")
		out = o + o2
		if !strings.Contains(strings.ToUpper(out), "MIRRORD") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("iptables rules left in pod %s's network namespace:\n%s", p.Name, out)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// containerPID finds the host pid of a pod's first container (the node is
// this machine), as the agent does.
func containerPID(p *corev1.Pod) (int, error) {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0, fmt.Errorf("pod %s has no container status", p.Name)
	}
	return target.FindContainerPID("/proc", p.Status.ContainerStatuses[0].ContainerID)
}
