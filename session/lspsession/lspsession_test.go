package lspsession

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/server"
	"github.com/mirrord-ls/mirrord-ls/session"
	"github.com/mirrord-ls/mirrord-ls/session/registry"
)

func TestListStopAndErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("/tmp", "mlsp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s := New(&session.Manager{Dir: dir})
	started := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	h, err := registry.Listen(ctx, dir, registry.Info{ID: "l-1", Target: "pod/a", Namespace: "ns", StartedAt: started, PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-h.Killed(); h.Close() }()
	list, err := s.ListSessions(ctx)
	want := server.SessionInfo{SessionID: "l-1", Target: "pod/a", Namespace: "ns", StartedAt: "2026-11-21T07:00:00Z", PID: 42}
	if err != nil || len(list) != 1 || list[0] != want {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.StopSession(ctx, "l-1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListSessions(ctx); len(list) != 0 {
		t.Errorf("after stop: %+v", list)
	}
	var msgs []string
	_, err = s.StartSession(ctx, server.StartSessionParams{ConfigPath: "/nonexistent/mirrord.json"}, func(m string) { msgs = append(msgs, m) })
	if err == nil || len(msgs) != 2 || msgs[0] != session.TaskConfig || msgs[1] != session.TaskConfig+": failed" {
		t.Errorf("start: %v, progress %q", err, msgs)
	}
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		e    session.Event
		want string
	}{
		{session.Event{Kind: session.TaskStarted, Task: "starting agent"}, "starting agent"},
		{session.Event{Kind: session.TaskFinished, Task: "starting agent", Success: true, Message: "pod x running"}, "starting agent: pod x running"},
		{session.Event{Kind: session.TaskFinished, Task: "starting agent"}, "starting agent: failed"},
		{session.Event{Kind: session.Warning, Message: "multi-pod"}, "warning: multi-pod"},
		{session.Event{Kind: session.Info, Message: "session ID: x"}, "session ID: x"},
	} {
		if got := Message(tc.e); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}
