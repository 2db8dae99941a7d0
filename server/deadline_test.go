package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
)

// TestRequestDeadline: a request whose handler never returns (and ignores
// its context) is answered RequestFailed at its deadline, and requests
// sent after it are answered meanwhile; a long request (a session start)
// has no deadline.
func TestRequestDeadline(t *testing.T) {
	const deadline = 300 * time.Millisecond
	c := startClient(t, Options{RequestTimeout: deadline})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	cancelled := make(chan struct{})
	// Test methods, added before any message is sent.
	c.srv.methods["test/stuck"] = request(true, func(ctx context.Context, _ struct{}) (string, error) {
		go func() { <-ctx.Done(); close(cancelled) }()
		<-release // ignores ctx
		return "late", nil
	})
	c.srv.methods["test/quick"] = request(true, func(context.Context, struct{}) (string, error) { return "quick", nil })
	long := request(true, func(ctx context.Context, _ struct{}) (string, error) {
		select {
		case <-time.After(3 * deadline):
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	long.long = true
	c.srv.methods["test/long"] = long
	c.initialize(t.TempDir())

	began := time.Now()
	stuck := c.send("test/stuck", struct{}{})
	tests := []struct {
		method, want string
	}{
		{"test/quick", "quick"},
		{"test/long", "done"},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			var got string
			c.call(tc.method, struct{}{}, &got)
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.method, got, tc.want)
			}
		})
	}
	resp := c.wait(stuck)
	took := time.Since(began)
	var werr *jsonrpc2.Error
	if !errors.As(resp.Err(), &werr) || werr.Code != CodeRequestFailed || !strings.Contains(werr.Message, "did not finish within") {
		t.Fatalf("stuck request answered %s, %v; want RequestFailed", resp.Result(), resp.Err())
	}
	if took < deadline || took > deadline+5*time.Second {
		t.Errorf("stuck request answered after %s, deadline %s", took, deadline)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the stuck request's context was not cancelled at the deadline")
	}
}
