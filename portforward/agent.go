package portforward

import (
	"context"
	"fmt"
	"sync"

	"github.com/mirrord-ls/mirrord-ls/kube/resolve"
	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// AgentSource brings up (or finds) an agent for a pod and connects to it.
// pod is nil for a targetless run. In a cluster this creates the agent Job
// and dials it through the port-forward subresource; with a pre-started
// agent it is StaticAgent; tests map pod names to agents they started in
// network namespaces.
type AgentSource interface {
	Connect(ctx context.Context, pod *resolve.Result) (*protocol.Client, error)
}

// AgentSourceFunc adapts a function to AgentSource.
type AgentSourceFunc func(ctx context.Context, pod *resolve.Result) (*protocol.Client, error)

// Connect calls f.
func (f AgentSourceFunc) Connect(ctx context.Context, pod *resolve.Result) (*protocol.Client, error) {
	return f(ctx, pod)
}

// StaticAgent is an agent that is already running at Address (HOST:PORT),
// whatever pod is asked for.
type StaticAgent struct {
	Address, Token string
	Info           protocol.ClientInfo
}

// Connect dials the agent.
func (s StaticAgent) Connect(ctx context.Context, _ *resolve.Result) (*protocol.Client, error) {
	c, err := protocol.Dial(ctx, s.Address, protocol.Options{Token: s.Token, Info: s.Info})
	if err != nil {
		return nil, fmt.Errorf("agent at %s: %w", s.Address, err)
	}
	return c, nil
}

// agentSlot holds the current agent connection. Connections that need an
// agent while there is none (the target's pod is being replaced) wait for
// the next one.
type agentSlot struct {
	mu      sync.Mutex
	client  *protocol.Client
	where   string
	pod     *resolve.Result // the target's pod the agent serves; nil: targetless
	changed chan struct{}   // closed and replaced on every change
}

func newAgentSlot() *agentSlot {
	return &agentSlot{changed: make(chan struct{})}
}

// set publishes a connected client (nil: none), with a description of
// where it runs ("pod/x" or "targetless").
func (s *agentSlot) set(c *protocol.Client, where string, pod *resolve.Result) {
	s.mu.Lock()
	s.client, s.where, s.pod = c, where, pod
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// targetPod is the pod of the published agent's target (nil: none, or
// targetless).
func (s *agentSlot) targetPod() *resolve.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pod
}

// get waits until a live client is published or ctx ends.
func (s *agentSlot) get(ctx context.Context) (*protocol.Client, string, error) {
	for {
		s.mu.Lock()
		c, where, changed := s.client, s.where, s.changed
		s.mu.Unlock()
		if c != nil {
			select {
			case <-c.Done():
				// Dead, and not yet replaced: wait for the next one.
			default:
				return c, where, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, "", fmt.Errorf("no agent became available: %w", context.Cause(ctx))
		}
	}
}
