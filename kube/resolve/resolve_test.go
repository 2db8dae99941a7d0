package resolve

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

func mustParse(t *testing.T, s string) targetpath.Target {
	t.Helper()
	tp, err := targetpath.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// TestResolve runs every target kind against a real control plane: pods
// come from the controllers and kwok, or are created bare.
func TestResolve(t *testing.T) {
	c := kubetest.Start(t)
	c.EnsureNodes(t, 2)
	c.EnsureRolloutCRD(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	cl := c.Client

	// A deployment with an istio sidecar first in its pod spec.
	if _, err := cl.AppsV1().Deployments(ns).Create(ctx, kubetest.Deployment("web", 2, "istio-proxy", "app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	webPods := c.WaitPodsReady(t, ns, "app=web", 2)
	c.SetContainerIDs(t, ns, "app=web")

	// Bare pods with sidecars and the default-container annotation.
	c.CreatePod(t, ns, kubetest.Pod("multi", map[string]string{"app": "multi", "tier": "be"},
		map[string]string{podselect.DefaultContainerAnnotation: "second"}, "linkerd-proxy", "first", "second"))
	c.CreatePod(t, ns, kubetest.Pod("mesh-only", nil, nil, "istio-proxy", "linkerd-proxy"))

	// A statefulset.
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Template: kubetest.PodTemplate(map[string]string{"app": "db"}, "postgres"),
	}}
	if _, err := cl.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitPodsReady(t, ns, "app=db", 1)
	c.SetContainerIDs(t, ns, "app=db")

	// A job and a cron job with manual selectors; their running pod is a
	// bare pod with the same labels (kwok completes job pods at once).
	manual := true
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate"}, Spec: batchv1.JobSpec{
		ManualSelector: &manual,
		Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "migrate"}},
		Template:       kubetest.PodTemplate(map[string]string{"app": "migrate"}, "migrate"),
	}}
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cl.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.CreatePod(t, ns, kubetest.Pod("migrate-worker", map[string]string{"app": "migrate"}, nil, "migrate"))
	// A cron job's pods are those of the jobs it controls (the API refuses
	// a manual selector in a job template): one such job, made by hand.
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *",
		Suspend:  &manual,
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: kubetest.PodTemplate(nil, "report"),
		}},
	}}
	cron.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	created, err := cl.BatchV1().CronJobs(ns).Create(ctx, cron, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cronRun := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(created, batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
		Spec: batchv1.JobSpec{
			ManualSelector: &manual,
			Suspend:        &manual,
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nightly"}},
			Template:       kubetest.PodTemplate(map[string]string{"app": "nightly"}, "report"),
		}}
	cronRun.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cl.BatchV1().Jobs(ns).Create(ctx, cronRun, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The job is suspended, so the job controller would adopt a matching
	// orphan pod and delete it: the pod belongs to another controller (a
	// config map stands in), which the job controller leaves alone. The
	// resolver goes by the job's selector.
	holder, err := cl.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nightly-holder"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nightlyRun := kubetest.Pod("nightly-run", map[string]string{"app": "nightly"}, nil, "report")
	nightlyRun.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(holder, corev1.SchemeGroupVersion.WithKind("ConfigMap"))}
	c.CreatePod(t, ns, nightlyRun)

	// Services: one selecting the multi pod, one without a selector.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "backend"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"tier": "be"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cl.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cl.CoreV1().Services(ns).Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// An Argo Rollout (no Argo controller: its pod is created bare).
	if _, err := c.Dynamic.Resource(kubetest.RolloutResource).Namespace(ns).Create(ctx, kubetest.Rollout("canary", "istio-proxy", "api"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.CreatePod(t, ns, kubetest.Pod("canary-abc", map[string]string{"app": "canary"}, nil, "istio-proxy", "api"))

	// A pod that can never be scheduled.
	pending := kubetest.Pod("stuck", map[string]string{"app": "stuck"}, nil, "app")
	pending.Spec.NodeSelector = map[string]string{"no-such-label": "x"}
	if _, err := cl.CoreV1().Pods(ns).Create(ctx, pending, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rsList, err := cl.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rsList.Items) != 1 {
		t.Fatalf("replica sets of web: %v (%d)", err, len(rsList.Items))
	}
	rsName := rsList.Items[0].Name
	webNames := []string{webPods[0].Name, webPods[1].Name}

	r := &Resolver{Client: cl, Dynamic: c.Dynamic}
	tests := []struct {
		target    string
		pods      []string // acceptable pods
		container string
		warning   string // a warning containing this, if set
	}{
		{target: "deployment/web", pods: webNames, container: "app", warning: "has 2 pods"},
		{target: "deploy/web/container/istio-proxy", pods: webNames, container: "istio-proxy"},
		{target: "replicaset/" + rsName, pods: webNames, container: "app"},
		{target: "pod/multi", pods: []string{"multi"}, container: "second"},
		{target: "pod/multi/container/first", pods: []string{"multi"}, container: "first"},
		{target: "pod/mesh-only", pods: []string{"mesh-only"}, container: "istio-proxy", warning: "sidecar"},
		{target: "statefulset/db", pods: []string{"db-0"}, container: "postgres"},
		{target: "job/migrate", pods: []string{"migrate-worker"}, container: "migrate"},
		{target: "cronjob/nightly", pods: []string{"nightly-run"}, container: "report"},
		{target: "service/backend", pods: []string{"multi"}, container: "second"},
		{target: "rollout/canary", pods: []string{"canary-abc"}, container: "api"},
		{target: "label/app=multi,tier=be/container/first", pods: []string{"multi"}, container: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, err := r.Resolve(ctx, ns, mustParse(t, tt.target))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tt.pods, res.Pod.Name) || res.Container != tt.container {
				t.Fatalf("resolved to %s/%s, want one of %v / %s", res.Pod.Name, res.Container, tt.pods, tt.container)
			}
			if !podselect.ValidContainerID(res.ContainerID) || res.NodeName == "" || len(res.PodIPs) == 0 {
				t.Errorf("incomplete result: id %q node %q ips %v", res.ContainerID, res.NodeName, res.PodIPs)
			}
			if tt.warning != "" && !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, tt.warning) }) {
				t.Errorf("warnings %q, want one containing %q", res.Warnings, tt.warning)
			}
		})
	}

	errTests := []struct {
		target string
		want   string
	}{
		{"deployment/wbe", `deployment "wbe" not found in namespace "` + ns + `" (did you mean web?); deployments there: web`},
		{"pod/mutli", `(did you mean multi?)`},
		{"pod/multi/container/frist", `container "frist" not found in pod ` + ns + `/multi (did you mean first?); containers: first, linkerd-proxy, second`},
		{"deployment/web/container/ap", `(did you mean app?)`},
		{"statefulset/dbb", `(did you mean db?)`},
		{"rollout/canry", `(did you mean canary?)`},
		{"pod/stuck", "pod stuck is Pending, not Running"},
		{"label/app=stuck", "none of its 1 pod(s) can be targeted: pod stuck is Pending, not Running"},
		{"label/app=nothing", "no pods match selector app=nothing"},
		{"service/external", `service "external" in namespace "` + ns + `" has no selector`},
		{"targetless", "targetless has no pod"},
	}
	for _, tt := range errTests {
		t.Run("error "+tt.target, func(t *testing.T) {
			res, err := r.Resolve(ctx, ns, mustParse(t, tt.target))
			if err == nil {
				t.Fatalf("resolved to %s/%s, want an error", res.Pod.Name, res.Container)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}

	t.Run("missing namespace", func(t *testing.T) {
		_, err := r.Resolve(ctx, ns+"-gone", mustParse(t, "deployment/web"))
		var nf *NotFoundError
		if !errors.As(err, &nf) || !nf.NamespaceMissing {
			t.Fatalf("error %v, want a NotFoundError for a missing namespace", err)
		}
	})
}
