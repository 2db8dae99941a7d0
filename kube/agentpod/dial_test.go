package agentpod

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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// fakeKubelet serves the kubelet's port-forward endpoint (SPDY,
// "portforward.k8s.io"), the one thing kwok lacks: every data stream is
// connected to target, whatever port it asks for. The API server reaches
// it through a Node whose address is 127.0.0.1 and kubelet port its port.
type fakeKubelet struct {
	srv    *httptest.Server
	target string

	mu       sync.Mutex
	requests []string // "ns/pod port"
}

func newFakeKubelet(t *testing.T, target string) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{target: target}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKubelet) port() int32 {
	_, p, _ := net.SplitHostPort(k.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n)
}

func (k *fakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
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
			go func() {
				defer s.Close()
				c, err := net.Dial("tcp", k.target)
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
			}()
		}
	}
}

// Dial goes through the real API server's pods/portforward subresource
// (WebSocket from client-go, translated to SPDY for the "kubelet") to a real
// agent, and the agent protocol runs over the stream.
func TestDialThroughPortForward(t *testing.T) {
	agenttest.RequireRoot(t)
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pod := agenttest.NewPod(t, agenttest.PodOptions{Env: map[string]string{"THROUGH": "port-forward"}})
	agent := agenttest.StartAgent(t, pod, agenttest.AgentOptions{})
	kubelet := newFakeKubelet(t, agent.Addr)

	nodeName := fmt.Sprintf("fake-kubelet-%d", kubelet.port())
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName},
		Spec:       corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{{Key: "mirrord-ls.dev/unmanaged", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	created, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Client.CoreV1().Nodes().Delete(context.Background(), nodeName, metav1.DeleteOptions{}) })
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: "127.0.0.1"}}
	created.Status.DaemonEndpoints.KubeletEndpoint.Port = kubelet.port()
	if _, err := c.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	agentPod := kubetest.Pod("agent-pod", nil, nil, ContainerName)
	agentPod.Spec.NodeName = nodeName
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, agentPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	stream, err := Dial(ctx, c.Admin, ns, "agent-pod", 43210)
	if err != nil {
		t.Fatal(err)
	}
	client, err := protocol.NewClient(ctx, stream, protocol.Options{Token: agent.Token, Info: protocol.ClientInfo{Name: "agentpod-test"}})
	if err != nil {
		stream.Close()
		t.Fatal(err)
	}
	defer client.Close()
	env, err := client.Env(ctx, protocol.EnvRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if env["THROUGH"] != "port-forward" {
		t.Errorf("remote env %v", env)
	}
	kubelet.mu.Lock()
	reqs := append([]string(nil), kubelet.requests...)
	kubelet.mu.Unlock()
	if len(reqs) != 1 || reqs[0] != ns+"/agent-pod 43210" {
		t.Errorf("kubelet saw %v", reqs)
	}

	// A pod that does not exist is a clear error.
	if _, err := Dial(ctx, c.Admin, ns, "no-such-pod", 43210); err == nil || !strings.Contains(err.Error(), "no-such-pod") {
		t.Errorf("dial to a missing pod: %v", err)
	}
}
