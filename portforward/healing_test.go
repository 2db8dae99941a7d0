package portforward_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/portforward"
	"github.com/mirrord-ls/mirrord-ls/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/servetest"
)

// serveBanner answers each line with "NAME: line" in the peer namespace,
// so a test knows which "pod" a connection went through.
func serveBanner(t testing.TB, ln net.Listener, name string) {
	servetest.Serve(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(c, "%s: %s", name, line); err != nil {
				return
			}
		}
	})
}

// ask sends one line over a new connection and returns the answer line.
func ask(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

// agentPool starts n namespace pods with agents; pod i answers on the -L
// route as "pod-i".
func agentPool(t *testing.T, n int) (*podAgents, []*agenttest.Pod) {
	pa := &podAgents{assigned: map[string]*agenttest.Agent{}}
	var pods []*agenttest.Pod
	for i := range n {
		pod, a := newPod(t)
		serveBanner(t, listenIn(t, pod.Peer, fmt.Sprintf("%s:%d", agenttest.PeerIP, peerPort)), fmt.Sprintf("pod-%d", i))
		pa.free = append(pa.free, a)
		pods = append(pods, pod)
	}
	return pa, pods
}

// clusterWait bounds waits on the controllers of the shared local control
// plane, which other test processes may keep busy (it is a deadline for
// failing, not an expectation: the measured figures are logged).
const clusterWait = 3 * time.Minute

// newReadyPod waits for a ready pod of selector not in old, gives it
// container ids (kwok does not), and returns its name.
func newReadyPod(t *testing.T, c *kubetest.Cluster, ns, selector string, old []string) string {
	t.Helper()
	var name string
	kubetest.Eventually(t, clusterWait, "a new ready pod", func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		for _, p := range list.Items {
			if slices.Contains(old, p.Name) || p.DeletionTimestamp != nil || p.Status.Phase != "Running" || len(p.Status.ContainerStatuses) == 0 {
				continue
			}
			name = p.Name
			return true, nil
		}
		return false, nil
	})
	c.SetContainerID(t, ns, name)
	return name
}

// healed waits until a new connection answers through want and returns
// how long that took since t0.
func healed(t *testing.T, r *running, want string, t0 time.Time) time.Duration {
	t.Helper()
	deadline := t0.Add(clusterWait)
	for {
		got, err := ask(r.LocalAddr(0).String(), "hi")
		if err == nil && got == want+": hi" {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new connection through %s %s after the pod went (last: %q, %v):\n%s", want, clusterWait, got, err, r.report.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSelfHealingDeployment: a deployment's pod is deleted, then replaced by
// a rollout; each time the forwarder moves to the new pod (a new agent)
// with its listeners and -R subscription, and new connections work again.
func TestSelfHealingDeployment(t *testing.T) {
	pool, pods := agentPool(t, 3)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	c.EnsureNodes(t, 1)
	ctx := context.Background()
	const sel = "app=web"
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, kubetest.Deployment("web", 1, "app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := newReadyPod(t, c, ns, sel, nil)
	app := newLocalApp(t)
	tracker := &portforward.KubeTracker{Client: c.Client, Resolver: &resolve.Resolver{Client: c.Client, Dynamic: c.Dynamic},
		Namespace: ns, Path: targetpath.Target{Kind: targetpath.Deployment, Name: "web"}}
	r := start(t, portforward.Config{
		Routes: portforward.Routes{
			Local:  []portforward.LocalRoute{{Host: "db", RemotePort: peerPort}},
			Remote: []portforward.RemoteRoute{{RemotePort: agenttest.AppHTTPPort, LocalPort: app.port}},
		},
		Incoming: portforward.Incoming{Mode: protocol.ModeSteal},
		Tracker:  tracker, Agents: pool,
	}, portforward.Quiet)
	if got, err := ask(r.LocalAddr(0).String(), "hi"); err != nil || got != "pod-0: hi" {
		t.Fatalf("first pod: %q, %v\n%s", got, err, r.report.String())
	}
	url := fmt.Sprintf("http://%s/x", agenttest.PodIP)
	if got := curl(t, pods[0], url); got != "local: GET /x" {
		t.Fatalf("-R on the first pod: %q", got)
	}
	app.expect(t, "GET /x ")

	// An open connection on the first pod.
	held, err := net.Dial("tcp", r.LocalAddr(0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldR := bufio.NewReader(held)
	io.WriteString(held, "hold\n")
	if line, err := heldR.ReadString('\n'); err != nil || line != "pod-0: hold\n" {
		t.Fatalf("held connection: %q, %v", line, err)
	}

	// 1. The pod is deleted; the ReplicaSet makes another.
	zero := int64(0)
	t0 := time.Now()
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, first, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	second := newReadyPod(t, c, ns, sel, []string{first})
	d1 := healed(t, r, "pod-1", t0)
	// The held connection was closed cleanly (EOF, no data lost from
	// before).
	held.SetReadDeadline(time.Now().Add(30 * time.Second))
	if rest, err := io.ReadAll(heldR); err != nil || len(rest) != 0 {
		t.Fatalf("held connection after its pod went: %q, %v", rest, err)
	}
	if got := curl(t, pods[1], url+"2"); got != "local: GET /x2" {
		t.Fatalf("-R after healing: %q", got)
	}
	app.expect(t, "GET /x2 ")

	// 2. A rollout replaces the pod.
	t1 := time.Now()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"restartedAt":%q}}}}}`, t1.Format(time.RFC3339Nano))
	if _, err := c.Client.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	third := newReadyPod(t, c, ns, sel, []string{first, second})
	d2 := healed(t, r, "pod-2", t1)
	t.Logf("new connections succeeded %s after the pod was deleted, %s after the rollout started (pods %s -> %s -> %s)",
		d1.Round(time.Millisecond), d2.Round(time.Millisecond), first, second, third)
	if got := pool.pods(); !slices.Equal(got, []string{first, second, third}) {
		t.Fatalf("agents were asked for pods %v, want %v", got, []string{first, second, third})
	}
	for _, want := range []string{"target pod gone: pod " + first, "re-resolving deployment/web", "(pod " + ns + "/" + third + ")"} {
		if !strings.Contains(r.report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, r.report.String())
		}
	}
}

// TestPodTargetLost: a pod target that is deleted ends the run with an
// error (there is nothing to follow).
func TestPodTargetLost(t *testing.T) {
	pool, _ := agentPool(t, 1)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	c.EnsureNodes(t, 1)
	c.CreatePod(t, ns, kubetest.Pod("solo", map[string]string{"app": "solo"}, nil, "app"))
	tracker := &portforward.KubeTracker{Client: c.Client, Resolver: &resolve.Resolver{Client: c.Client},
		Namespace: ns, Path: targetpath.Target{Kind: targetpath.Pod, Name: "solo"}}
	buf := &syncBuffer{}
	f, err := portforward.New(portforward.Config{
		Routes:  portforward.Routes{Local: []portforward.LocalRoute{{Host: "db", RemotePort: peerPort}}},
		Tracker: tracker, Agents: pool, Report: portforward.NewReporter(buf, portforward.Quiet),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()
	select {
	case <-f.Ready():
	case err := <-done:
		t.Fatalf("ended before ready: %v\n%s", err, buf.String())
	}
	if got, err := ask(f.LocalAddr(0).String(), "hi"); err != nil || got != "pod-0: hi" {
		t.Fatalf("%q, %v", got, err)
	}
	zero := int64(0)
	if err := c.Client.CoreV1().Pods(ns).Delete(context.Background(), "solo", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, portforward.ErrTargetGone) || !strings.Contains(err.Error(), "pod solo") {
			t.Fatalf("run ended with %v, want the pod's loss", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not end 60s after its pod was deleted:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "a pod target is not followed") {
		t.Fatalf("report:\n%s", buf.String())
	}
	// The listener is gone with the run.
	if c, err := net.DialTimeout("tcp", f.LocalAddr(0).String(), time.Second); err == nil {
		c.Close()
		t.Fatal("listener still open after the run ended")
	}
}

// TestSelfHealingStatefulSet: a StatefulSet's pod comes back under the same
// name (a new UID); the forwarder notices the replacement and moves.
func TestSelfHealingStatefulSet(t *testing.T) {
	pool, _ := agentPool(t, 2)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	c.EnsureNodes(t, 1)
	ctx := context.Background()
	one := int32(1)
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: kubetest.PodTemplate(labels, "app")},
	}
	if _, err := c.Client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newReadyPod(t, c, ns, "app=db", nil)
	first, err := c.Client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tracker := &portforward.KubeTracker{Client: c.Client, Resolver: &resolve.Resolver{Client: c.Client},
		Namespace: ns, Path: targetpath.Target{Kind: targetpath.StatefulSet, Name: "db"}}
	r := start(t, portforward.Config{
		Routes:  portforward.Routes{Local: []portforward.LocalRoute{{Host: "db", RemotePort: peerPort}}},
		Tracker: tracker, Agents: pool,
	}, portforward.Quiet)
	if got, err := ask(r.LocalAddr(0).String(), "hi"); err != nil || got != "pod-0: hi" {
		t.Fatalf("first pod: %q, %v\n%s", got, err, r.report.String())
	}
	zero := int64(0)
	t0 := time.Now()
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "db-0", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	// The same name comes back with another UID.
	kubetest.Eventually(t, clusterWait, "db-0 recreated and running", func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return p.UID != first.UID && p.Status.Phase == "Running" && len(p.Status.ContainerStatuses) > 0, nil
	})
	c.SetContainerID(t, ns, "db-0")
	d := healed(t, r, "pod-1", t0)
	t.Logf("statefulset: new connections succeeded %s after db-0 was deleted", d.Round(time.Millisecond))
}
