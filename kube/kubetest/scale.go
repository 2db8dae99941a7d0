package kubetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Scale describes the benchmark fixture: Namespaces namespaces named
// bench-scale-00.., each with DeploymentsPerNamespace one-replica
// deployments (pods made by the controller-manager, scheduler and kwok)
// and enough bare pods (bound to kwok nodes directly, created with many
// concurrent requests) to reach PodsPerNamespace pods.
type Scale struct {
	Namespaces              int
	DeploymentsPerNamespace int
	PodsPerNamespace        int
}

// DefaultScale is 10,000 pods and 1,000 deployments over 20 namespaces.
var DefaultScale = Scale{Namespaces: 20, DeploymentsPerNamespace: 50, PodsPerNamespace: 500}

// ScaleEnv must be set to 1 to run the scale benchmarks (creating the
// fixture takes minutes); MIRRORD_BENCH_KEEP=1 keeps it for the next run.
const ScaleEnv = "MIRRORD_BENCH_SCALE"

// RequireScale skips a benchmark unless MIRRORD_BENCH_SCALE=1.
func RequireScale(b testing.TB) {
	b.Helper()
	if os.Getenv(ScaleEnv) != "1" {
		b.Skipf("scale benchmark: set %s=1 (creates %d pods; minutes)", ScaleEnv, DefaultScale.Namespaces*DefaultScale.PodsPerNamespace)
	}
}

var (
	scaleOnce sync.Once
	scaleNS   []string
	scaleErr  error
)

// EnsureScale creates the scale fixture once per test process (reusing
// namespaces that already hold it) and waits until every pod is Running and
// Ready. The namespaces are deleted after the package's tests unless
// MIRRORD_BENCH_KEEP=1.
func (c *Cluster) EnsureScale(b testing.TB, s Scale) []string {
	b.Helper()
	c.EnsureNodes(b, s.nodes())
	scaleOnce.Do(func() {
		start := time.Now()
		scaleNS, scaleErr = c.ensureScale(s)
		if scaleErr == nil {
			fmt.Fprintf(os.Stderr, "kubetest: scale fixture (%d namespaces, %d pods, %d deployments) ready in %s\n",
				s.Namespaces, s.Namespaces*s.PodsPerNamespace, s.Namespaces*s.DeploymentsPerNamespace, time.Since(start).Round(time.Second))
		}
		if os.Getenv("MIRRORD_BENCH_KEEP") != "1" {
			names := scaleNS
			AtExit(func() {
				for _, ns := range names {
					_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
				}
			})
		}
	})
	if scaleErr != nil {
		b.Fatalf("scale fixture: %v", scaleErr)
	}
	return scaleNS
}

// nodes is how many kwok nodes hold the fixture (5,000 pods fit on each).
func (s Scale) nodes() int { return (s.Namespaces*s.PodsPerNamespace)/4000 + 2 }

func (c *Cluster) ensureScale(s Scale) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	nodes := s.nodes()
	var names []string
	for i := range s.Namespaces {
		ns := fmt.Sprintf("bench-scale-%02d", i)
		names = append(names, ns)
		_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	for _, ns := range names {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := c.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return nil, fmt.Errorf("default ServiceAccount of %s: %w", ns, err)
		}
	}
	// Every object is created by a pool of workers; AlreadyExists means a
	// kept fixture and is fine.
	type job func(context.Context) error
	jobs := make(chan job)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for j := range jobs {
				if err := j(ctx); err != nil && !apierrors.IsAlreadyExists(err) {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	bare := s.PodsPerNamespace - s.DeploymentsPerNamespace
	for _, ns := range names {
		for d := range s.DeploymentsPerNamespace {
			name := fmt.Sprintf("svc-%03d", d)
			jobs <- func(ctx context.Context) error {
				_, err := c.Client.AppsV1().Deployments(ns).Create(ctx, Deployment(name, 1, "app"), metav1.CreateOptions{})
				return err
			}
		}
	}
	for p := range bare {
		for _, ns := range names {
			pod := Pod(fmt.Sprintf("pod-%04d", p), map[string]string{"bench": "bare"}, nil, "app")
			pod.Spec.NodeName = fmt.Sprintf("kwok-node-%d", p%nodes)
			jobs <- func(ctx context.Context) error {
				_, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				return err
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	for _, ns := range names {
		err := wait.PollUntilContextTimeout(ctx, time.Second, 20*time.Minute, true, func(ctx context.Context) (bool, error) {
			list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			ready := 0
			for _, p := range list.Items {
				if p.Status.Phase == corev1.PodRunning && podReady(&p) {
					ready++
				}
			}
			return ready >= s.PodsPerNamespace, nil
		})
		if err != nil {
			return nil, fmt.Errorf("pods of %s not ready: %w", ns, err)
		}
	}
	return names, nil
}
