package realnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecStaticGoProgram: a CGO_ENABLED=0 Go program — which LD_PRELOAD
// cannot reach — under `mirrord exec --target deployment/api` runs under
// the seccomp supervisor and sees the pod: its environment, a file only
// its container has, the cluster's Service names through Go's own
// resolver (the pod's resolv.conf and CoreDNS) and outgoing traffic that
// the orders pod sees coming from the api pod's address.
func TestExecStaticGoProgram(t *testing.T) {
	f := setup(t)
	bin := filepath.Join(t.TempDir(), "goprobe")
	build := exec.Command("go", "build", "-o", bin, "../../layer/supervisor/testdata/goprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
