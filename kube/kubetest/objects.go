package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// pollInterval is how often conditions are re-checked while waiting.
const pollInterval = 50 * time.Millisecond

// WaitTimeout bounds every Wait* helper.
const WaitTimeout = 60 * time.Second

// Eventually waits until cond returns true (an error stops the wait), or
// fails the test after timeout with what.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	if err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for the test, waits until its default
// ServiceAccount exists (pods are rejected before that), and deletes it when
// the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	name := "t-" + base + "-" + hex.EncodeToString(suffix[:])
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"mirrord-ls-test": "true"}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Pods are removed at once first: a pod bound to a node no kubelet
		// (or kwok) runs would otherwise wait forever for its graceful end
		// and keep the namespace Terminating.
		zero := int64(0)
		_ = c.Client.CoreV1().Pods(name).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		err := c.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	Eventually(t, WaitTimeout, "default ServiceAccount in "+name, func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	return name
}

// NodeAnnotation marks nodes kwok manages in this cluster.
const NodeAnnotation = "kwok.x-k8s.io/node"

// EnsureNodes makes sure n kwok fake nodes named kwok-node-0..n-1 exist and
// are Ready. Nodes are shared by all tests and never deleted.
func (c *Cluster) EnsureNodes(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        fmt.Sprintf("kwok-node-%d", i),
				Annotations: map[string]string{NodeAnnotation: "fake"},
				Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": fmt.Sprintf("kwok-node-%d", i)},
			},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("256"),
					corev1.ResourceMemory: resource.MustParse("1Ti"),
					corev1.ResourcePods:   resource.MustParse("5000"),
				},
				Capacity: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("256"),
					corev1.ResourceMemory: resource.MustParse("1Ti"),
					corev1.ResourcePods:   resource.MustParse("5000"),
				},
			},
		}
		_, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create node %s: %v", node.Name, err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		Eventually(t, WaitTimeout, "node "+name+" Ready", func(ctx context.Context) (bool, error) {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					return cond.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})
	}
}

// WaitPodsReady waits until at least n pods matching selector in ns are
// Running with the Ready condition True, and returns them.
func (c *Cluster) WaitPodsReady(t testing.TB, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	Eventually(t, WaitTimeout, fmt.Sprintf("%d ready pod(s) %q in %s", n, selector, ns), func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		ready = ready[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && podReady(&p) {
				ready = append(ready, p)
			}
		}
		return len(ready) >= n, nil
	})
	return ready
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// SetContainerIDs gives every container of the pods matching selector in ns
// a "containerd://<hex>" id through the status subresource (kwok leaves
// containerID empty, and target resolution requires one).
func (c *Cluster) SetContainerIDs(t testing.TB, ns, selector string) {
	t.Helper()
	ctx := context.Background()
	list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods %q in %s: %v", selector, ns, err)
	}
	for _, p := range list.Items {
		c.SetContainerID(t, ns, p.Name)
	}
}

// SetContainerID gives every container of one pod a container id.
func (c *Cluster) SetContainerID(t testing.TB, ns, pod string) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return fmt.Errorf("pod %s/%s has no container statuses yet", ns, pod)
		}
		for i := range p.Status.ContainerStatuses {
			s := &p.Status.ContainerStatuses[i]
			if s.ContainerID == "" {
				s.ContainerID = "containerd://" + hex.EncodeToString([]byte(p.Name+"/"+s.Name))
			}
		}
		_, err = c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set container ids of pod %s/%s: %v", ns, pod, err)
	}
}

// GrantLimited binds the limited user to a Role in ns with the given rules.
func (c *Cluster) GrantLimited(t testing.TB, ns string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "limited", Namespace: ns}, Rules: rules}
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "limited", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "limited"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: LimitedUser}},
	}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role binding: %v", err)
	}
}
