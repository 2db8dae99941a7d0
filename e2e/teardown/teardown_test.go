// Package teardown checks that `make cluster-down` leaves nothing of the
// real node behind: no process, mount, cgroup, bridge, veth, iptables rule
// or changed sysctl. It stops and starts the shared local cluster, so it
// runs on its own after every other test (`make test` sets
// MIRRORD_TEARDOWN_TEST=1 for it; without that it skips).
package teardown

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func script(t *testing.T, root, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", name)}, args...)...)
	cmd.Env = append(os.Environ(), "MIRRORD_CLUSTER_MANAGED_BY=test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// snapshot is what the node can leave on the host.
type snapshot map[string][]string

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

func take(t *testing.T, state string) snapshot {
	t.Helper()
	s := snapshot{}
	// Processes of the node: anything whose command line names the state
	// directory (containerd, kubelet, shims, kube-proxy, CoreDNS) or runs
	// in the node's cgroups.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		line := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(line, state) || strings.Contains(string(cg), "/mirrord-") || strings.Contains(string(cg), "kubepods") {
			s["process"] = append(s["process"], e.Name()+" "+line)
		}
	}
	// Mounts under the state directory, and netns files.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (strings.HasPrefix(f[4], state) || strings.Contains(f[4], "/run/netns/cni-") || strings.HasPrefix(f[4], "/run/containerd")) {
			s["mount"] = append(s["mount"], f[4])
		}
	}
	// cgroups of the node in every hierarchy.
	hier, _ := filepath.Glob("/sys/fs/cgroup/*/mirrord-*")
	s["cgroup"] = append(s["cgroup"], hier...)
	kp, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	s["cgroup"] = append(s["cgroup"], kp...)
	// Links (bridge, veths).
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ": ", 3)
		if len(f) > 1 {
			s["link"] = append(s["link"], strings.SplitN(f[1], "@", 2)[0])
		}
	}
	// iptables rules (without counters) in every table, IPv4 and IPv6.
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(tool).Output()
		for _, l := range strings.Split(string(out), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			s["iptables"] = append(s["iptables"], tool+" "+counters.ReplaceAllString(l, ""))
		}
	}
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"} {
		b, _ := os.ReadFile(p)
		s["sysctl"] = append(s["sysctl"], p+"="+strings.TrimSpace(string(b)))
	}
	for k := range s {
		slices.Sort(s[k])
	}
	return s
}

func diff(before, after []string) (added, removed []string) {
	for _, a := range after {
		if !slices.Contains(before, a) {
			added = append(added, a)
		}
	}
	for _, b := range before {
		if !slices.Contains(after, b) {
			removed = append(removed, b)
		}
	}
	return added, removed
}

func TestClusterDownLeavesNothing(t *testing.T) {
	if os.Getenv("MIRRORD_TEARDOWN_TEST") != "1" {
		t.Skip("stops the shared cluster: `make test` runs it alone with MIRRORD_TEARDOWN_TEST=1")
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (the real node)")
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, ".cache", "cluster", "state")
	if v := os.Getenv("MIRRORD_CLUSTER_STATE"); v != "" {
		state = v
	}
	if b, err := os.ReadFile(filepath.Join(state, "cluster.env")); err == nil && strings.Contains(string(b), "MANAGED_BY=dev") {
		t.Skip("a developer's cluster is running (make cluster-up); not stopping it")
	}
	// A shared hold on users.lock, as every test process using the cluster
	// takes: a lingering `cluster-down.sh --if-unused` of an earlier test
	// run then leaves this test's cluster alone.
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(state, "users.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	script(t, root, "cluster-down.sh")
	before := take(t, state)

	script(t, root, "cluster-up.sh")
	t.Cleanup(func() {
		// on failure, leave nothing either
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "cluster-down.sh")).Run()
	})
	kubectl := filepath.Join(root, ".cache", "cluster", "bin", "kubectl")
	kc := filepath.Join(state, "admin.kubeconfig")
	images, err := os.ReadFile(filepath.Join(root, ".cache", "images", "busybox.ref"))
	if err != nil {
		t.Fatalf("busybox image: %v (run `make images`)", err)
	}
	env, _ := os.ReadFile(filepath.Join(state, "cluster.env"))
	node := regexp.MustCompile(`(?m)^NODE=(.+)$`).FindStringSubmatch(string(env))
	taint := regexp.MustCompile(`(?m)^NODE_TAINT=(.+)$`).FindStringSubmatch(string(env))
	if node == nil || taint == nil {
		t.Fatalf("cluster.env names no real node:\n%s", env)
	}
	// A pod and a Service, so the node has a sandbox, a veth, mounts,
	// cgroups and kube-proxy rules to clean up.
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: teardown-check, namespace: default, labels: {app: teardown-check}}
spec:
  nodeSelector: {kubernetes.io/hostname: %s}
  tolerations: [{key: %s, operator: Exists, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: %s, imagePullPolicy: Never, command: [sh, -c, "exec httpd -f -p 8080"]}
---
apiVersion: v1
kind: Service
metadata: {name: teardown-check, namespace: default}
spec:
  selector: {app: teardown-check}
  ports: [{port: 80, targetPort: 8080}]
`, node[1], taint[1], strings.TrimSpace(string(images)))
	apply := exec.Command(kubectl, "--kubeconfig", kc, "apply", "-f", "-")
	apply.Stdin = strings.NewReader(manifest)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := exec.Command(kubectl, "--kubeconfig", kc, "wait", "--for=condition=Ready", "pod/teardown-check", "--timeout=90s").CombinedOutput(); err != nil {
		t.Fatalf("pod not ready: %v\n%s", err, out)
	}
	during := take(t, state)
	// The snapshot sees what the node made (so an empty diff below means
	// it was removed, not that it was never looked for).
	for _, k := range []string{"process", "mount", "cgroup", "link", "iptables"} {
		if added, _ := diff(before[k], during[k]); len(added) == 0 {
			t.Fatalf("the running node added no %s: the check would see nothing", k)
		}
	}
	// The objects are removed so the next start has nothing to restore.
	_ = exec.Command(kubectl, "--kubeconfig", kc, "delete", "pod/teardown-check", "service/teardown-check", "--grace-period=0", "--force").Run()

	script(t, root, "cluster-down.sh")
	after := take(t, state)
	for _, k := range []string{"process", "mount", "cgroup", "link", "iptables", "sysctl"} {
		added, removed := diff(before[k], after[k])
		if len(added) > 0 || len(removed) > 0 {
			t.Errorf("%s: after cluster-down, left %q, changed/removed %q", k, added, removed)
		}
	}
}
