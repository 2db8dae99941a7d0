package realnode

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExecStaticGoProgram: a CGO_ENABLED=0 Go program — which LD_PRELOAD
// cannot reach — under `mirrord exec --target deployment/api` runs under
// the seccomp supervisor and sees the pod: its environment, a file only
// its container has, the cluster's Service names through Go's own
// resolver (the pod's resolv.conf and CoreDNS) and outgoing traffic that
// the orders pod sees coming from the api pod's address.
func TestExecStaticGoProgram(t *testing.T) {
	f := setup(t)
	bin := buildGoprobe(t, filepath.Join(t.TempDir(), "goprobe"), false)
	cfg := f.config(t, nil)
	out := f.mirrordExec(t, cfg, []string{"--target", "deployment/" + apiName}, bin,
		"env=APP_GREETING", "cat="+podFile,
		"get=http://orders/cgi-bin/whoami",
		"get=http://orders."+f.ns+".svc.cluster.local/cgi-bin/whoami")
	if !strings.Contains(out, "under the seccomp supervisor") {
		t.Errorf("mirrord exec did not choose the supervisor:\n%s", out)
	}
	if g := lineWith(out, "env APP_GREETING "); g != podGreeting {
		t.Errorf("APP_GREETING = %q, want %q\n%s", g, podGreeting, out)
	}
	if got := lineWith(out, "cat "); !strings.HasPrefix(got, fmt.Sprintf("%q", podFileText)[:len(podFileText)+1]) {
		t.Errorf("pod-only file: %q, want %q\n%s", got, podFileText, out)
	}
	ip := f.podIP(t, "app="+apiName)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if got, ok := strings.CutPrefix(l, "get "); ok {
			n++
			if !calledFrom(got, ip) || !strings.Contains(got, "pod="+ordersName+"-") {
				t.Errorf("%q, want orders answering a call from %s\n%s", got, ip, out)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d answers from orders, want 2\n%s", n, out)
	}
	t.Logf("mirrord exec output:\n%s", out)
	f.agentsGone(t, f.ns)
}

// TestExecStaticGoIncoming: the same static Go program serving the
// target's port under the supervisor has the pod's traffic stolen to it
// (the callers get its answer, through the pod IP and the Service) and,
// in mirror mode, sees a copy while the pod still answers.
func TestExecStaticGoIncoming(t *testing.T) {
	f := setup(t)
	bin := buildGoprobe(t, filepath.Join(t.TempDir(), "goprobe"), false)
	podIP := f.podIP(t, "app="+apiName)
	urls := map[string]string{"pod IP": "http://" + net.JoinHostPort(podIP, fmt.Sprint(appPort)), "service": "http://" + apiName}
	serve := fmt.Sprintf("serve=:%d", appPort)

	t.Run("steal", func(t *testing.T) {
		s := f.startExec(t, f.config(t, nil), []string{"--target", "deployment/" + apiName, "--steal"}, bin, serve)
		s.waitOutput(t, "listening", 2*time.Minute)
		if !strings.Contains(s.output(), "under the seccomp supervisor") {
			t.Errorf("mirrord exec did not choose the supervisor:\n%s", s.output())
		}
		for what, url := range urls {
			eventually(t, 20*time.Second, func() string {
				if got := f.fetch(t, url+"/steal", ""); got != "from the local go: /steal" {
					return fmt.Sprintf("steal via %s: %q, want the local answer", what, got)
				}
				return ""
			})
		}
		s.stop(t)
		f.agentsGone(t, f.ns)
		if got := f.fetch(t, urls["service"]+"/", ""); !strings.HasPrefix(got, "from-pod "+apiName) {
			t.Fatalf("after the session the pod answers %q", got)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		s := f.startExec(t, f.config(t, nil), []string{"--target", "deployment/" + apiName}, bin, serve)
		s.waitOutput(t, "listening", 2*time.Minute)
		copies := 0
		for what, url := range urls {
			path := "/?mirror-" + strings.ReplaceAll(what, " ", "-")
			copies++ // each URL must add a copy the local process saw
			eventually(t, 20*time.Second, func() string {
				if got := f.fetch(t, url+path, ""); !strings.HasPrefix(got, "from-pod "+apiName) {
					return fmt.Sprintf("mirror via %s: the caller got %q, want the pod's own answer", what, got)
				}
				if strings.Count(s.output(), "request / from ") < copies {
					return fmt.Sprintf("mirror via %s: the local process saw no copy:\n%s", what, s.output())
				}
				return ""
			})
		}
		s.stop(t)
		f.agentsGone(t, f.ns)
	})
}

// buildGoprobe builds layer/supervisor's goprobe at path, statically
// (CGO_ENABLED=0) or with cgo (dynamically linked).
func buildGoprobe(t *testing.T, path string, cgo bool) string {
	t.Helper()
	build := exec.Command("go", "build", "-o", path, "../../layer/supervisor/testdata/goprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cgo {
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", path, err, out)
	}
	return path
}
