package clusterserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/internal/clusterrpc"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/kube/kubeconfig"
)

// Serve answers the cluster helper protocol (internal/clusterrpc) on rwc
// until the other end closes it or ctx ends. Requests run concurrently;
// "$/cancelRequest" cancels one. It returns when every request has been
// answered (or abandoned because rwc closed).
func Serve(ctx context.Context, rwc io.ReadWriteCloser, p *Provider) error {
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(rwc))
	h := &handler{p: p, base: ctx, running: map[string]context.CancelFunc{}}
	conn.Go(ctx, h.handle)
	select {
	case <-conn.Done():
	case <-ctx.Done():
		conn.Close()
		<-conn.Done()
	}
	h.cancelAll()
	h.wg.Wait()
	if err := conn.Err(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) && ctx.Err() == nil {
		return fmt.Errorf("cluster helper connection: %w", err)
	}
	return nil
}

type handler struct {
	p    *Provider
	base context.Context
	wg   sync.WaitGroup

	mu      sync.Mutex
	running map[string]context.CancelFunc // by request id
}

func (h *handler) handle(_ context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
	call, ok := req.(*jsonrpc2.Call)
	if !ok {
		if req.Method() == clusterrpc.MethodCancel {
			var p struct {
				ID jsonrpc2.ID `json:"id"`
			}
			if json.Unmarshal(req.Params(), &p) == nil {
				h.cancel(fmt.Sprint(p.ID))
			}
		}
		return nil // other notifications are ignored
	}
	id := fmt.Sprint(call.ID())
	ctx, cancel := context.WithCancel(h.base)
	h.mu.Lock()
	h.running[id] = cancel
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		result, err := h.dispatch(ctx, call.Method(), call.Params())
		h.mu.Lock()
		delete(h.running, id)
		h.mu.Unlock()
		if err != nil {
			err = wireError(ctx, err)
		}
		cancel()
		_ = reply(context.WithoutCancel(h.base), result, err) // a failed write ends the connection
	}()
	return nil
}

func (h *handler) cancel(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.running[id]; ok {
		c()
	}
}

func (h *handler) cancelAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.running {
		c()
	}
}

// wireError turns a failure into the JSON-RPC error the server shows.
func wireError(ctx context.Context, err error) error {
	var je *jsonrpc2.Error
	switch {
	case errors.As(err, &je):
		return je
	case errors.Is(ctx.Err(), context.Canceled):
		return jsonrpc2.NewError(clusterrpc.CodeRequestCancelled, "request cancelled")
	}
	return jsonrpc2.NewError(clusterrpc.CodeRequestFailed, err.Error())
}

func decode[T any](method string, raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, jsonrpc2.NewError(jsonrpc2.InvalidParams, fmt.Sprintf("%s: bad params: %v", method, err))
	}
	return v, nil
}

// dispatch runs one method.
func (h *handler) dispatch(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	switch method {
	case clusterrpc.MethodListTargets:
		p, err := decode[clusterrpc.ListTargetsParams](method, raw)
		if err != nil {
			return nil, err
		}
		return h.p.ListTargets(ctx, targets.TargetQuery{Cluster: p.Cluster, Kinds: p.Kinds, IncludeUnavailable: p.IncludeUnavailable})
	case clusterrpc.MethodDescribeTarget:
		p, err := decode[clusterrpc.TargetParams](method, raw)
		if err != nil {
			return nil, err
		}
		return h.p.DescribeTarget(ctx, p.Cluster, p.Path)
	case clusterrpc.MethodCheckTarget:
		p, err := decode[clusterrpc.TargetParams](method, raw)
		if err != nil {
			return nil, err
		}
		c, err := h.p.CheckTarget(ctx, p.Cluster, p.Path)
		return c, err
	case clusterrpc.MethodComplete:
		p, err := decode[targets.ClusterQuery](method, raw)
		if err != nil {
			return nil, err
		}
		a, err := h.p.CompleteCluster(ctx, p)
		return a, err
	case clusterrpc.MethodNamespaces:
		p, err := decode[targets.ClusterRef](method, raw)
		if err != nil {
			return nil, err
		}
		return h.p.Namespaces(ctx, p)
	case clusterrpc.MethodContexts:
		p, err := decode[targets.ClusterRef](method, raw)
		if err != nil {
			return nil, err
		}
		names, current, err := kubeconfig.Contexts(kubeconfig.Options{Kubeconfig: p.Kubeconfig, LookupEnv: h.p.opts.LookupEnv})
		if names == nil {
			names = []string{}
		}
		return clusterrpc.Contexts{Names: names, Current: current}, err
	}
	return nil, jsonrpc2.NewError(jsonrpc2.MethodNotFound, "method not found: "+method)
}
