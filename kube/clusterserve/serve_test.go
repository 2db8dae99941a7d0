package clusterserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/mirrord-ls/mirrord-ls/internal/clusterrpc"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/kube/catalog"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

// serve runs Serve over a pipe with a catalog reading kubeconfig and
// returns a connection to it.
func serve(t *testing.T, kubeconfig string) jsonrpc2.Conn {
	t.Helper()
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(serveRaw(t, kubeconfig)))
	conn.Go(context.Background(), jsonrpc2.MethodNotFoundHandler)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// serveRaw runs Serve over a pipe and returns the client end of it.
func serveRaw(t *testing.T, kubeconfig string) net.Conn {
	t.Helper()
	env := func(name string) (string, bool) {
		if name == "KUBECONFIG" {
			return kubeconfig, true
		}
		return os.LookupEnv(name)
	}
	cat := catalog.New(catalog.Options{LookupEnv: env})
	p := New(cat, Options{LookupEnv: env, SyncTimeout: time.Minute})
	serverEnd, clientEnd := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), serverEnd, p) }()
	t.Cleanup(func() {
		clientEnd.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after the connection closed")
		}
		cat.Close()
	})
	return clientEnd
}

// TestServe asks each method of the protocol against the local cluster.
func TestServe(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	populated := c.PopulateTargets(t, ns)
	conn := serve(t, c.Kubeconfig)
	ctx := t.Context()
	cluster := targets.ClusterRef{Namespace: ns}

	var l targets.TargetList
	if _, err := conn.Call(ctx, clusterrpc.MethodListTargets, clusterrpc.ListTargetsParams{Cluster: cluster, Kinds: []string{"deploy"}}, &l); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range l.Targets {
		got = append(got, tg.Path)
	}
	want := slices.Clone(populated.Available["deployment"])
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listTargets = %v, want %v", got, want)
	}

	var check targets.TargetCheck
	if _, err := conn.Call(ctx, clusterrpc.MethodCheckTarget, clusterrpc.TargetParams{Cluster: cluster, Path: "deployment/nope"}, &check); err != nil {
		t.Fatal(err)
	}
	if !check.Missing || check.Message == "" {
		t.Errorf("checkTarget of a missing deployment = %+v", check)
	}
	var md string
	if _, err := conn.Call(ctx, clusterrpc.MethodDescribeTarget, clusterrpc.TargetParams{Cluster: cluster, Path: want[0]}, &md); err != nil || md == "" {
		t.Errorf("describeTarget = %q, %v", md, err)
	}

	var nss clusterrpc.Namespaces
	if _, err := conn.Call(ctx, clusterrpc.MethodNamespaces, cluster, &nss); err != nil {
		t.Fatal(err)
	}
	if nss.Current != ns || !slices.Contains(nss.Names, ns) {
		t.Errorf("namespaces = %+v", nss)
	}
	var ctxs clusterrpc.Contexts
	if _, err := conn.Call(ctx, clusterrpc.MethodContexts, targets.ClusterRef{Kubeconfig: c.Kubeconfig}, &ctxs); err != nil {
		t.Fatal(err)
	}
	if ctxs.Current == "" || !slices.Contains(ctxs.Names, ctxs.Current) {
		t.Errorf("contexts = %+v", ctxs)
	}
	doc := fmt.Sprintf(`{"target": {"namespace": %q, "path": "deployment/"}}`, ns)
	var a targets.ClusterAnswer
	if _, err := conn.Call(ctx, clusterrpc.MethodComplete, targets.ClusterQuery{Field: "target", Prefix: "deployment/", Document: doc, Offset: len(doc) - 3}, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Values) == 0 && !a.Incomplete {
		t.Errorf("complete = %+v: neither values nor incomplete", a)
	}

	for _, tc := range []struct {
		method string
		params any
		code   jsonrpc2.Code
	}{
		{"nope", nil, jsonrpc2.MethodNotFound},
		{clusterrpc.MethodListTargets, json.RawMessage(`{"cluster": 3}`), jsonrpc2.InvalidParams},
		{clusterrpc.MethodListTargets, clusterrpc.ListTargetsParams{Cluster: cluster, Kinds: []string{"gizmo"}}, clusterrpc.CodeRequestFailed},
	} {
		_, err := conn.Call(ctx, tc.method, tc.params, nil)
		var je *jsonrpc2.Error
		if !errors.As(err, &je) || je.Code != tc.code {
			t.Errorf("%s %v: error %v, want code %d", tc.method, tc.params, err, tc.code)
		}
	}
}

// TestServeCancel: $/cancelRequest ends a listTargets that waits on a
// cluster which never answers.
func TestServeCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: silent
clusters:
- name: silent
  cluster: {server: "https://%s", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: x}
contexts:
- name: silent
  context: {cluster: silent, user: u, namespace: default}
`, ln.Addr())
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stream := jsonrpc2.NewStream(serveRaw(t, kubeconfig))
	ctx := t.Context()
	id := jsonrpc2.NewNumberID(7)
	call, err := jsonrpc2.NewCall(id, clusterrpc.MethodListTargets, clusterrpc.ListTargetsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Write(ctx, call); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted:
		accepted <- c // closed by the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("listTargets never connected to the cluster")
	}
	cancel, err := jsonrpc2.NewNotification(clusterrpc.MethodCancel, map[string]any{"id": &id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Write(ctx, cancel); err != nil {
		t.Fatal(err)
	}
	// The silent cluster never answers and the sync timeout is a minute:
	// only the cancel can end the request.
	msg, _, err := stream.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := msg.(*jsonrpc2.Response)
	var je *jsonrpc2.Error
	if !ok || resp.ID() != id || !errors.As(resp.Err(), &je) || je.Code != clusterrpc.CodeRequestCancelled {
		t.Fatalf("reply = %#v, want RequestCancelled for %v", msg, id)
	}
}
