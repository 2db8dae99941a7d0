package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
)

// Kube is the cluster a configuration names, with the clients to reach it.
type Kube struct {
	REST    *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Namespace is the target's namespace: target.namespace (-n,
	// MIRRORD_TARGET_NAMESPACE), else the kube context's.
	Namespace string
	// Context is the kube context in use ("" in a pod).
	Context string
	// Kubeconfig is the config's kubeconfig file (MIRRORD_KUBECONFIG);
	// KubeconfigEnv the KUBECONFIG the configuration saw. The session's
	// intproxy reaches the cluster with them.
	Kubeconfig, KubeconfigEnv string
}

// Kube loads the cluster configuration the way kubectl does, with the
// config's kubeconfig and kube_context (--context, MIRRORD_KUBE_CONTEXT)
// and the request's KUBECONFIG.
func (r *Resolved) Kube() (*Kube, error) {
	cfg := r.Config
	opts := kubeconfig.Options{LookupEnv: r.lookup}
	if cfg.Kubeconfig != nil {
		opts.Kubeconfig = *cfg.Kubeconfig
	}
	if cfg.KubeContext != nil {
		opts.Context = *cfg.KubeContext
	}
	kc, err := kubeconfig.Load(opts)
	if err != nil {
		return nil, fail("cannot load the Kubernetes configuration", "Set agent.address and agent.token to use a pre-started agent without a cluster.", err)
	}
	client, err := kubernetes.NewForConfig(kc.REST)
	if err != nil {
		return nil, fail("cannot create a Kubernetes client", "", err)
	}
	dyn, err := dynamic.NewForConfig(kc.REST)
	if err != nil {
		return nil, fail("cannot create a Kubernetes client", "", err)
	}
	k := &Kube{REST: kc.REST, Client: client, Dynamic: dyn, Namespace: kc.Namespace, Context: kc.Context, Kubeconfig: opts.Kubeconfig}
	if cfg.Target.Namespace != nil && *cfg.Target.Namespace != "" {
		k.Namespace = *cfg.Target.Namespace
	}
	k.KubeconfigEnv, _ = r.lookup("KUBECONFIG")
	return k, nil
}

// Resolver resolves target paths in the cluster.
func (k *Kube) Resolver() *resolve.Resolver {
	return &resolve.Resolver{Client: k.Client, Dynamic: k.Dynamic}
}

// resolveTarget resolves the config's target to its pod (TaskTarget); nil
// for a targetless run.
func resolveTarget(ctx context.Context, k *Kube, rc *Resolved, rep reporter, warn func(string)) (*resolve.Result, error) {
	cfg := rc.Config
	if cfg.Targetless || cfg.Target.Path == nil {
		return nil, nil
	}
	t := rep.task(TaskTarget)
	defer t.fail()
	res, err := k.Resolver().Resolve(ctx, k.Namespace, *cfg.Target.Path)
	if err != nil {
		return nil, fail("cannot resolve the target "+cfg.Target.Path.String(), "Pick a running target with `mirrord ls`.", err)
	}
	for _, w := range res.Warnings {
		warn(w)
	}
	if res.Pods > 1 {
		warn(fmt.Sprintf("%s has %d pods: this session impersonates only %s", cfg.Target.Path, res.Pods, res.Pod.Name))
	}
	t.ok(fmt.Sprintf("pod/%s/container/%s", res.Pod.Name, res.Container))
	return res, nil
}

// AgentOptions describe one agent for StartAgent.
type AgentOptions struct {
	// SessionID names the agent's Job and Secret and labels them; empty:
	// a new id.
	SessionID string
	// Pod is the target's pod (kube/resolve); nil for a targetless agent.
	Pod *resolve.Result
	// Info describes this client to the agent.
	Info protocol.ClientInfo
	// Progress receives TaskAgent (with a TaskProgress event once the
	// agent is created) and TaskConnect.
	Progress ProgressFunc
}

// Agent is an agent StartAgent created in the cluster and connected to.
type Agent struct {
	// Client is the connection; closing it leaves the agent to exit on
	// its own (it does when its last client leaves).
	Client *protocol.Client
	// Created is what exists in the cluster: the Job (or ephemeral
	// container) and token Secret, the agent's pod and port, the image.
	Created agentpod.Agent
	// Token is the agent's session token.
	Token string

	kube *Kube
}

// Delete closes the connection and removes the agent's Job (with its pod)
// and token Secret. An ephemeral container cannot be removed from its pod:
// its Secret is, and the agent exits when its last client left.
func (a *Agent) Delete(ctx context.Context) error {
	a.Client.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return a.Created.Delete(ctx, a.kube.Client)
}

// StartAgent brings up one agent as rc's agent section says — a Job pinned
// to the pod's node, an ephemeral container of the pod (agent.ephemeral),
// or a targetless Job when pod is nil — waits until it runs (within
// agent.startup_timeout, failing at once on an image that cannot be pulled
// or a container that exits), and connects through the pods/portforward
// subresource (within agent.communication_timeout; a peer that does not
// speak this protocol fails at once, naming agent.image). On error nothing
// it created is left. Errors are *Error.
//
// session.Start uses it for its agent, `mirrord port-forward` for each pod
// it follows (Agents).
func StartAgent(ctx context.Context, k *Kube, rc *Resolved, opts AgentOptions) (*Agent, error) {
	rep := reporter{opts.Progress}
	cfg := rc.Config
	id := opts.SessionID
	if id == "" {
		id = newSessionID()
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	params, err := agentpod.FromConfig(cfg.Agent)
	if err != nil {
		return nil, fail("invalid agent settings", "", err)
	}
	params.SessionID, params.TargetPath, params.Branch = id, rc.Target(), rc.Branch.Branch
	params.Namespace = k.Namespace
	if cfg.Agent.Namespace != nil && *cfg.Agent.Namespace != "" {
		params.Namespace = *cfg.Agent.Namespace
	}
	if res := opts.Pod; res != nil {
		params.Target = &agentpod.Target{Pod: res.Pod.Name, Namespace: res.Namespace, Node: res.NodeName,
			Container: res.Container, ContainerID: res.ContainerID}
	}

	t := rep.task(TaskAgent)
	defer t.fail()
	a, err := agentpod.Create(ctx, k.Client, params, token)
	if err != nil {
		return nil, fail("cannot create the agent", "Check that you may create jobs and secrets in the agent's namespace (agent.namespace, -a).", err)
	}
	created := &Agent{Token: token, kube: k, Created: *a}
	ok := false
	defer func() {
		if !ok {
			if created.Client != nil {
				created.Client.Close()
			}
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			_ = created.Created.Delete(dctx, k.Client)
		}
	}()
	if a.Ephemeral {
		rep.progress(TaskAgent, fmt.Sprintf("agent container %s added to pod %s/%s (image %s)", a.Container, a.Namespace, a.Pod, a.Image))
	} else {
		rep.progress(TaskAgent, fmt.Sprintf("agent Job %s created in %s (image %s)", a.Job, a.Namespace, a.Image))
	}
	startup := time.Duration(cfg.Agent.StartupTimeout) * time.Second
	if startup <= 0 {
		startup = 60 * time.Second
	}
	if err := a.WaitReady(ctx, k.Client, startup); err != nil {
		return nil, fail("the agent did not start", agentHelp(err, a.Image), err)
	}
	created.Created = *a
	t.ok("agent pod " + a.Pod + " running")

	t = rep.task(TaskConnect)
	defer t.fail()
	kc := k.REST
	open := func(ctx context.Context) (io.ReadWriteCloser, error) {
		return agentpod.Dial(ctx, kc, a.Namespace, a.Pod, a.Port)
	}
	c, err := connectAgent(ctx, open, protocol.Options{Token: token, Info: opts.Info}, a.Image,
		"Check that you may create pods/portforward in "+a.Namespace+".", communicationTimeout(cfg))
	if err != nil {
		return nil, err
	}
	created.Client = c
	t.ok("connected")
	ok = true
	return created, nil
}

// connectAgent runs the agent handshake over streams from open within
// timeout, retrying while the agent may still be starting to listen, and
// explains a failure in terms of agent.image: an agent that answers
// something else than this protocol (the official mirrord agent image, or
// no agent at all) fails at once; one that closes every connection or says
// nothing fails when timeout is over.
func connectAgent(ctx context.Context, open func(context.Context) (io.ReadWriteCloser, error), opts protocol.Options, image, help string, timeout time.Duration) (*protocol.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := handoff.DialKube(dctx, open, opts)
	if err == nil {
		return c, nil
	}
	imageHelp := fmt.Sprintf("Check agent.image (MIRRORD_AGENT_IMAGE, -i): %s must be a mirrord-ls agent image (`make agent-image`); "+
		"the official mirrord agent (ghcr.io/metalbear-co/mirrord) speaks another protocol.", image)
	switch {
	case errors.Is(err, protocol.ErrNotAgent), errors.Is(err, protocol.ErrIncompatible):
		return nil, fail(fmt.Sprintf("the agent (image %s) does not speak this mirrord's agent protocol", image), imageHelp, err)
	case errors.Is(err, protocol.ErrRejected):
		return nil, fail(fmt.Sprintf("the agent (image %s) closed every connection during the handshake", image), imageHelp, err)
	}
	return nil, fail(fmt.Sprintf("cannot connect to the agent (image %s) through port-forward", image), help+" "+imageHelp, err)
}

func agentHelp(err error, image string) string {
	switch {
	case errors.Is(err, agentpod.ErrImagePull):
		return fmt.Sprintf("Check agent.image (MIRRORD_AGENT_IMAGE, -i; now %s) and agent.image_pull_secrets.", image)
	case errors.Is(err, agentpod.ErrExited):
		return fmt.Sprintf("Check agent.image (MIRRORD_AGENT_IMAGE, -i; now %s): it must be a mirrord-ls agent image (`make agent-image`); "+
			"`kubectl logs` of the agent pod says why it ended.", image)
	case errors.Is(err, agentpod.ErrUnschedulable):
		return "Check agent.node_selector, agent.tolerations and agent.resources against the cluster's nodes."
	case errors.Is(err, agentpod.ErrTimeout):
		return "Raise agent.startup_timeout if the cluster is slow to start pods."
	}
	return ""
}

// Agents brings up an agent per pod for a command that follows its target
// (`mirrord port-forward`): Connect starts a fresh agent for the pod with
// StartAgent; once its connection is closed (the forwarder moved to another
// pod, or the run ended) the agent is deleted. Its Connect method makes it
// a portforward.AgentSource. Close ends every connection and waits for the
// deletions.
type Agents struct {
	Kube     *Kube
	Resolved *Resolved
	// Info describes this client to the agents.
	Info protocol.ClientInfo
	// Progress receives each agent's TaskAgent and TaskConnect.
	Progress ProgressFunc
	// Deleted, when set, is told about each agent removed (err nil) or
	// that could not be removed.
	Deleted func(a *Agent, err error)

	mu     sync.Mutex
	live   map[*Agent]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Connect starts an agent for pod (nil: targetless) and returns its
// connection.
func (s *Agents) Connect(ctx context.Context, pod *resolve.Result) (*protocol.Client, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("session agents: closed")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	a, err := StartAgent(ctx, s.Kube, s.Resolved, AgentOptions{Pod: pod, Info: s.Info, Progress: s.Progress})
	if err != nil {
		s.wg.Done()
		return nil, err
	}
	s.mu.Lock()
	if s.live == nil {
		s.live = map[*Agent]struct{}{}
	}
	s.live[a] = struct{}{}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		a.Client.Close() // the goroutine below deletes it
	}
	cleanup := context.WithoutCancel(ctx)
	go func() {
		defer s.wg.Done()
		<-a.Client.Done()
		err := a.Delete(cleanup)
		s.mu.Lock()
		delete(s.live, a)
		s.mu.Unlock()
		if s.Deleted != nil {
			s.Deleted(a, err)
		}
	}()
	if closed {
		return nil, errors.New("session agents: closed")
	}
	return a.Client, nil
}

// Close closes every agent connection and waits until their agents are
// deleted, or ctx ends.
func (s *Agents) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for a := range s.live {
		a.Client.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("deleting the agents: %w", ctx.Err())
	}
}
