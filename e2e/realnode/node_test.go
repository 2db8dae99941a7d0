package realnode

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/internal/testbin"
)

// TestClusterDNSAndServices: pods resolve Service names in every form
// through the cluster DNS and reach them through kube-proxy's ClusterIP
// rules; the answer comes from the other pod.
func TestClusterDNSAndServices(t *testing.T) {
	f := setup(t)
	for _, name := range []string{ordersName, ordersName + "." + f.ns, ordersName + "." + f.ns + ".svc.cluster.local"} {
		t.Run(name, func(t *testing.T) {
			out, err := f.podExec(t, "deploy/"+apiName, "wget -qO- http://"+name+"/cgi-bin/whoami")
			if err != nil {
				t.Fatalf("wget %s from api: %v\n%s", name, err, out)
			}
			if !strings.Contains(out, "pod="+ordersName+"-") {
				t.Fatalf("answer from %s: %q, want one from an orders pod", name, out)
			}
		})
	}
}

// TestNothingLeavesTheMachine: a pod's connection to an address outside
// the node and its look-up of an outside name fail at once, rejected by
// the node's FORWARD chain and answered NXDOMAIN by the cluster DNS (which
// forwards nothing). The reject rule's counter shows the packet stopped at
// the node.
func TestNothingLeavesTheMachine(t *testing.T) {
	f := setup(t)
	before := rejectCount(t)
	// 203.0.113.1 is TEST-NET-3: never routed, and never reached here.
	start := time.Now()
	out, err := f.podExec(t, "deploy/"+apiName, "nc 203.0.113.1 80 </dev/null; echo exit=$?")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("kubectl exec: %v\n%s", err, out)
	}
	if strings.Contains(out, "exit=0") {
		t.Fatalf("a pod connected to an outside address: %q", out)
	}
	if took > 5*time.Second {
		t.Fatalf("the outside connect took %s to fail; want at once (%q)", took, out)
	}
	if after := rejectCount(t); after <= before {
		t.Fatalf("the node's reject rule counted no packet (%d -> %d)", before, after)
	}

	start = time.Now()
	out, err = f.podExec(t, "deploy/"+apiName, "nslookup mirrord-outside-check.example.com; echo exit=$?")
	took = time.Since(start)
	if err != nil {
		t.Fatalf("kubectl exec: %v\n%s", err, out)
	}
	if strings.Contains(out, "exit=0") || !strings.Contains(strings.ToUpper(out), "NXDOMAIN") {
		t.Fatalf("an outside name resolved or did not fail with NXDOMAIN: %q", out)
	}
	if took > 5*time.Second {
		t.Fatalf("the outside look-up took %s to fail", took)
	}
}

// rejectCount sums the packet counters of the node's reject rules.
func rejectCount(t testing.TB) int {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "-L", "MIRRORD-NODE-FWD", "-v", "-n", "-x").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -L MIRRORD-NODE-FWD: %v\n%s", err, out)
	}
	total := 0
	s := bufio.NewScanner(strings.NewReader(string(out)))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 2 && fields[2] == "REJECT" {
			n, _ := strconv.Atoi(fields[0])
			total += n
		}
	}
	return total
}

// TestKubectlPortForwardAndLogs: the node serves the kubelet's streaming
// API (port-forward, exec, logs) through the apiserver.
func TestKubectlPortForwardAndLogs(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.kubectl, "--kubeconfig", f.c.AdminKubeconfig, "-n", f.ns,
		"port-forward", "deploy/"+apiName, ":"+strconv.Itoa(appPort))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
	r := bufio.NewReader(stdout)
	var port string
	for port == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("kubectl port-forward: %v", err)
		}
		if m := re.FindStringSubmatch(line); m != nil {
			port = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("GET through kubectl port-forward: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "from-pod "+apiName+"-") {
		t.Fatalf("through kubectl port-forward: %q", body)
	}
	if out, err := f.kubectlRun(t, "logs", "pod/"+duoName, "-c", "main"); err != nil {
		t.Fatalf("kubectl logs: %v\n%s", err, out)
	}
}

func mirrordBin(t testing.TB) string { return testbin.Mirrord(t) }

// TestMirrordLs lists the real node's workloads.
func TestMirrordLs(t *testing.T) {
	f := setup(t)
	out, err := run(t, 60*time.Second, []string{"KUBECONFIG=" + f.kubeconfig}, mirrordBin(t), "ls", "-n", f.ns,
		"-t", "pod", "-t", "deployment", "-t", "statefulset", "-t", "job")
	if err != nil {
		t.Fatalf("mirrord ls: %v\n%s", err, out)
	}
	for _, want := range []string{"deployment/" + apiName, "statefulset/" + dbName, "job/" + batchName, "pod/" + duoName + "/container/side"} {
		if !strings.Contains(out, want) {
			t.Errorf("mirrord ls lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "mirrord-agent") {
		t.Errorf("mirrord ls lists an agent:\n%s", out)
	}
}

// TestPullsNeverLeave: an image the node does not have is never fetched
// from outside: containerd's pull goes to the dead proxy on loopback and
// fails at once (no DNS look-up of the registry either).
func TestPullsNeverLeave(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pull-check"},
		Spec: f.node.PodSpec(corev1.Container{Name: "c", Image: "registry.mirrord-test.invalid/nothing:1",
			ImagePullPolicy: corev1.PullIfNotPresent})}
	if _, err := f.c.Client.CoreV1().Pods(f.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		zero := int64(0)
		_ = f.c.Client.CoreV1().Pods(f.ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}()
	var last string
	for {
		p, err := f.c.Client.CoreV1().Pods(f.ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil {
			w := p.Status.ContainerStatuses[0].State.Waiting
			last = w.Reason + ": " + w.Message
			if w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" {
				if !strings.Contains(w.Message, "127.0.0.1:9") {
					t.Fatalf("the pull failed, but not at the loopback proxy: %s", last)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no pull failure within 90 s; last state: %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
