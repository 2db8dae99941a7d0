// Package kubelettest is a test stand-in for the one kubelet feature kwok
// lacks: the port-forward endpoint. A Kubelet serves SPDY
// "portforward.k8s.io" on a TLS loopback port and connects every data
// stream to a fixed address (a real agent started by the test; one per pod
// with SetPodTarget), whatever pod port it asks for. A Node whose address
// is 127.0.0.1 and whose kubelet port is the Kubelet's makes the real API
// server's pods/portforward subresource reach it for every pod bound to
// that node.
package kubelettest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// Kubelet is a fake kubelet's port-forward endpoint.
type Kubelet struct {
	srv *httptest.Server

	mu       sync.Mutex
	target   string
	pods     map[string]string // "ns/pod" -> HOST:PORT, over target
	requests []string          // "ns/pod port"
}

// Start serves port-forward requests to target (HOST:PORT; SetTarget and
// SetPodTarget may set it later) until the test ends.
func Start(t testing.TB, target string) *Kubelet {
	t.Helper()
	k := &Kubelet{target: target}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

// SetTarget changes where data streams go.
func (k *Kubelet) SetTarget(target string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.target = target
}

// SetPodTarget sends the data streams of one pod to target (HOST:PORT),
// so each agent pod of a test can have its own agent.
func (k *Kubelet) SetPodTarget(namespace, pod, target string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pods == nil {
		k.pods = map[string]string{}
	}
	k.pods[namespace+"/"+pod] = target
}

// Port is the kubelet port.
func (k *Kubelet) Port() int32 {
	_, p, _ := net.SplitHostPort(k.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// Requests lists the port-forward data streams served, as "ns/pod port".
func (k *Kubelet) Requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.requests...)
}

// Node creates a node served by this kubelet (cordoned and tainted so no
// other pod is scheduled there; kwok does not manage it) and deletes it
// when the test ends. Pods bound to it stay as their creator sets them.
func (k *Kubelet) Node(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("fake-kubelet-%d", k.Port())
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{Unschedulable: true,
			Taints: []corev1.Taint{{Key: "mirrord-ls.dev/unmanaged", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "127.0.0.1"}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = k.Port()
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
	return name
}

func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/portForward/") {
		http.NotFound(w, r)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	for {
		select {
		case <-conn.CloseChan():
			return
		case s := <-streams:
			h := s.Headers()
			if h.Get(corev1.StreamType) != corev1.StreamTypeData {
				continue // the error stream: nothing to report
			}
			k.mu.Lock()
			k.requests = append(k.requests, strings.TrimPrefix(r.URL.Path, "/portForward/")+" "+h.Get(corev1.PortHeader))
			k.mu.Unlock()
			go k.relay(s, podKey(r.URL.Path))
		}
	}
}

// podKey is "ns/pod" of a kubelet path /portForward/{ns}/{pod}[/{uid}].
func podKey(path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, "/portForward/"), "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

func (k *Kubelet) relay(s httpstream.Stream, pod string) {
	defer s.Close()
	k.mu.Lock()
	target := k.target
	if t, ok := k.pods[pod]; ok {
		target = t
	}
	k.mu.Unlock()
	c, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, s)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(s, c)
}
