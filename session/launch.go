package session

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

// Env is the debuggee's environment built from local (os.Environ() form)
// as editors build it from a MirrordExecution: local without EnvToUnset
// (names matched case-insensitively), then Environment laid over it.
func (l *Launch) Env(local []string) []string {
	env := map[string]string{}
	for _, kv := range local {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		unset := false
		for _, u := range l.EnvToUnset {
			if strings.EqualFold(k, u) {
				unset = true
				break
			}
		}
		if !unset {
			env[k] = v
		}
	}
	for k, v := range l.Environment {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// End ends a session this process started and waits until its intproxy
// has exited — by then the intproxy has deleted the agent Job and Secret
// (handoff.Finish) and reported to Jira. It asks through the session's
// socket (POST /kill, as `mirrord session stop` does), falling back to
// SIGTERM when the session is not registered; when ctx ends first the
// intproxy is killed, and the agent, which exits when its last client
// leaves, is left to its Job's TTL. A session that already ended is not
// an error.
func (l *Launch) End(ctx context.Context) error {
	p := l.proc
	if p == nil {
		return fmt.Errorf("session %s was not started by this process", l.SessionID)
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := registry.Kill(ctx, p.sessions, l.SessionID); err != nil {
		_ = p.proc.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		_ = p.proc.Kill()
		<-p.done
		return fmt.Errorf("session %s: the intproxy (pid %d) did not end in time and was killed; the agent exits when its connection ends: %w",
			l.SessionID, p.pid, ctx.Err())
	}
}
