package agentpod

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod/kubelettest"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

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
	kubelet := kubelettest.Start(t, agent.Addr)
	nodeName := kubelet.Node(t, c.Client)
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
	reqs := kubelet.Requests()
	if len(reqs) != 1 || reqs[0] != ns+"/agent-pod 43210" {
		t.Errorf("kubelet saw %v", reqs)
	}
	// Closing is prompt: nothing waits for the far end's goodbye.
	t0 := time.Now()
	client.Close()
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("closing the client took %v", d)
	}

	// A pod that does not exist is a clear error.
	if _, err := Dial(ctx, c.Admin, ns, "no-such-pod", 43210); err == nil || !strings.Contains(err.Error(), "no-such-pod") {
		t.Errorf("dial to a missing pod: %v", err)
	}
}
