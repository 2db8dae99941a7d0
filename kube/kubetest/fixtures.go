package kubetest

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// PodSpec is a pod spec with one container per name (image "fake": kwok
// runs nothing).
func PodSpec(containers ...string) corev1.PodSpec {
	spec := corev1.PodSpec{}
	for _, c := range containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: c, Image: "fake"})
	}
	return spec
}

// PodTemplate is a pod template with labels and containers.
func PodTemplate(labels map[string]string, containers ...string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: PodSpec(containers...)}
}

// Deployment builds a deployment selecting app=name.
func Deployment(name string, replicas int32, containers ...string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: PodTemplate(labels, containers...),
		},
	}
}

// Pod builds a bare pod.
func Pod(name string, labels, annotations map[string]string, containers ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec:       PodSpec(containers...),
	}
}

// CreatePod creates a bare pod, waits until kwok made it Running and Ready,
// and gives its containers ids.
func (c *Cluster) CreatePod(t testing.TB, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	Eventually(t, WaitTimeout, "pod "+pod.Name+" ready", func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return p.Status.Phase == corev1.PodRunning && podReady(p), nil
	})
	c.SetContainerID(t, ns, pod.Name)
}

// RolloutResource is Argo Rollouts' resource.
var RolloutResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// EnsureRolloutCRD installs a minimal Argo Rollouts CRD (any fields
// accepted) unless it exists, and waits until it is served. The CRD is
// cluster-wide and shared by all tests: it is never deleted.
func (c *Cluster) EnsureRolloutCRD(t testing.TB) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "rollouts.argoproj.io"},
		"spec": map[string]any{
			"group": "argoproj.io",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "rollouts", "singular": "rollout", "kind": "Rollout", "listKind": "RolloutList", "shortNames": []any{"ro"}},
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				}},
				"subresources": map[string]any{"status": map[string]any{}},
			}},
		},
	}}
	_, err := c.Dynamic.Resource(crdResource).Create(context.Background(), crd, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create Rollout CRD: %v", err)
	}
	Eventually(t, WaitTimeout, "Rollout CRD served", func(ctx context.Context) (bool, error) {
		_, err := c.Dynamic.Resource(RolloutResource).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}

// Rollout builds an Argo Rollout selecting app=name with an inline template.
func Rollout(name string, containers ...string) *unstructured.Unstructured {
	cs := make([]any, len(containers))
	for i, c := range containers {
		cs[i] = map[string]any{"name": c, "image": "fake"}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Rollout",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec":     map[string]any{"containers": cs},
			},
		},
	}}
}

// WaitDeploymentAvailable waits until a deployment reports at least n
// available replicas.
func (c *Cluster) WaitDeploymentAvailable(t testing.TB, ns, name string, n int32) {
	t.Helper()
	Eventually(t, WaitTimeout, "deployment "+name+" available", func(ctx context.Context) (bool, error) {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas >= n, nil
	})
}
