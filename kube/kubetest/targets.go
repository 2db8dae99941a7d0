package kubetest

import (
	"context"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
)

// Targets is what PopulateTargets created: the target paths a listing of
// the namespace must return as available, and those it must return as
// unavailable (when unavailable targets are asked for), per kind.
type Targets struct {
	Available   map[string][]string
	Unavailable map[string][]string
}

// PopulateTargets fills ns with one object of every listable kind, in
// available and unavailable variants (running pods get container ids), waits until the controllers and kwok
// have settled them, and returns the expected listing:
//
//   - deployment web (2 replicas, istio-proxy + app) and its two pods;
//     deployment idle (0 replicas, unavailable)
//   - pod multi (linkerd-proxy, first, second; default container second),
//     pod sidecar (istio-proxy + app), pod stuck (never scheduled),
//     pod agent labelled app=mirrord (never listed)
//   - statefulset db (1 replica) and its pod db-0
//   - the replica set of web; job and cron job "batch"/"nightly", suspended
//   - service backend (selects multi), service external (no selector)
//   - rollout canary (Rollout CRD installed if missing)
func (c *Cluster) PopulateTargets(t testing.TB, ns string) Targets {
	t.Helper()
	ctx := context.Background()
	cl := c.Client
	c.EnsureNodes(t, 2)
	c.EnsureRolloutCRD(t)
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("create %s: %v", what, err)
		}
	}
	_, err := cl.AppsV1().Deployments(ns).Create(ctx, Deployment("web", 2, "istio-proxy", "app"), metav1.CreateOptions{})
	fail("deployment web", err)
	_, err = cl.AppsV1().Deployments(ns).Create(ctx, Deployment("idle", 0, "app"), metav1.CreateOptions{})
	fail("deployment idle", err)
	c.CreatePod(t, ns, Pod("multi", map[string]string{"tier": "be"},
		map[string]string{podselect.DefaultContainerAnnotation: "second"}, "linkerd-proxy", "first", "second"))
	c.CreatePod(t, ns, Pod("sidecar", nil, nil, "istio-proxy", "app"))
	c.CreatePod(t, ns, Pod("agent", map[string]string{"app": "mirrord"}, nil, "agent"))
	stuck := Pod("stuck", nil, nil, "app")
	stuck.Spec.NodeSelector = map[string]string{"no-such-label": "x"}
	_, err = cl.CoreV1().Pods(ns).Create(ctx, stuck, metav1.CreateOptions{})
	fail("pod stuck", err)
	_, err = cl.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: PodTemplate(map[string]string{"app": "db"}, "postgres"),
		}}, metav1.CreateOptions{})
	fail("statefulset db", err)
	suspend := true
	jobSpec := batchv1.JobSpec{Suspend: &suspend, Template: PodTemplate(nil, "work")}
	jobSpec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	_, err = cl.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Spec: jobSpec}, metav1.CreateOptions{})
	fail("job batch", err)
	_, err = cl.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: &suspend,
			JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec}}}, metav1.CreateOptions{})
	fail("cronjob nightly", err)
	_, err = cl.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "backend"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"tier": "be"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	fail("service backend", err)
	_, err = cl.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	fail("service external", err)
	_, err = c.Dynamic.Resource(RolloutResource).Namespace(ns).Create(ctx, Rollout("canary", "istio-proxy", "api"), metav1.CreateOptions{})
	fail("rollout canary", err)

	web := c.WaitPodsReady(t, ns, "app=web", 2)
	c.WaitPodsReady(t, ns, "app=db", 1)
	c.SetContainerIDs(t, ns, "app=web")
	c.SetContainerIDs(t, ns, "app=db")
	c.WaitDeploymentAvailable(t, ns, "web", 2)
	Eventually(t, WaitTimeout, "statefulset db ready", func(ctx context.Context) (bool, error) {
		s, err := cl.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas >= 1, err
	})
	var rsName string
	Eventually(t, WaitTimeout, "replica set of web available", func(ctx context.Context) (bool, error) {
		l, err := cl.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		rsName = l.Items[0].Name
		return l.Items[0].Status.AvailableReplicas >= 1, nil
	})
	var idleRS string
	Eventually(t, WaitTimeout, "replica set of idle", func(ctx context.Context) (bool, error) {
		l, err := cl.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=idle"})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		idleRS = l.Items[0].Name
		return true, nil
	})
	pods := []string{"pod/db-0", "pod/multi/container/first", "pod/multi/container/second", "pod/sidecar"}
	for _, p := range web {
		pods = append(pods, "pod/"+p.Name)
	}
	sort.Strings(pods)
	return Targets{
		Available: map[string][]string{
			"pod":         pods,
			"deployment":  {"deployment/web"},
			"rollout":     {"rollout/canary"},
			"statefulset": {"statefulset/db"},
			"replicaset":  {"replicaset/" + rsName},
			"service":     {"service/backend"},
		},
		Unavailable: map[string][]string{
			"pod":        {"pod/stuck"},
			"deployment": {"deployment/idle"},
			"replicaset": {"replicaset/" + idleRS},
			"job":        {"job/batch"},
			"cronjob":    {"cronjob/nightly"},
			"service":    {"service/external"},
		},
	}
}
