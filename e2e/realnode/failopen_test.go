package realnode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/agent/netns"
	"github.com/mirrord-ls/mirrord-ls/kube/agentpod"
)

// TestAgentPodForceDeletedDuringSteal: while `mirrord exec --steal` steals
// the api pod's port on the real node, the agent pod is deleted with
// `kubectl delete pod --grace-period=0 --force`, as an impatient operator
// (or the node's eviction) would. The api pod's port must serve the api
// app again within 1 s of the agent's death (issue 15): the agent's
// sk_lookup link went with its process, and nothing (no link, no iptables
// rule) is left in the api pod's network namespace.
func TestAgentPodForceDeletedDuringSteal(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	api, err := readyPod(ctx, f.c, f.ns, "app="+apiName)
	if err != nil {
		t.Fatal(err)
	}
	apiPID, err := containerPID(api)
	if err != nil {
		t.Fatal(err)
	}
	apiNetns := "/proc/" + strconv.Itoa(apiPID) + "/ns/net"
	var st syscall.Stat_t
	if err := syscall.Stat(apiNetns, &st); err != nil {
		t.Fatal(err)
	}
	// Requests come from the orders pod's namespace: traffic from another
	// pod of the cluster.
	orders, err := readyPod(ctx, f.c, f.ns, "app="+ordersName)
	if err != nil {
		t.Fatal(err)
	}
	ordersPID, err := containerPID(orders)
	if err != nil {
		t.Fatal(err)
	}
	from, err := netns.Open("/proc/" + strconv.Itoa(ordersPID) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	url := "http://" + net.JoinHostPort(api.Status.PodIP, strconv.Itoa(appPort))

	rounds := forcedDeleteRounds
	if testing.Short() {
		rounds = 1
	}
	var toAnswer, toDeath []time.Duration
	for round := range rounds {
		d, a := forceDeleteDuringSteal(t, f, ctx, from, url, st.Ino, round)
		toDeath, toAnswer = append(toDeath, d), append(toAnswer, a)
		if t.Failed() {
			return
		}
	}
	t.Logf("forced delete -> last agent process dead: %s", durations(toDeath))
	t.Logf("forced delete -> the api app answers again: %s", durations(toAnswer))
}

// forcedDeleteRounds is how many sessions TestAgentPodForceDeletedDuringSteal
// starts and kills.
const forcedDeleteRounds = 5

// forceDeleteDuringSteal runs one round: steal, force-delete the agent pod,
// wait for the app. It returns how long after the delete the agent's
// processes were all dead and the app answered.
func forceDeleteDuringSteal(t *testing.T, f *fixture, ctx context.Context, from netns.Namespace, url string, ino uint64, round int) (toDeath, toAnswer time.Duration) {
	t.Helper()
	s := f.startExec(t, f.config(t, nil), []string{"--target", "deployment/" + apiName, "--steal"}, "python3", "-c", localServer)
	s.waitOutput(t, "listening", 2*time.Minute)
	eventually(t, 20*time.Second, func() string {
		if got, err := getFrom(ctx, from, url+"/steal", time.Second); err != nil || got != "from-local /steal" {
			return fmt.Sprintf("round %d: steal: %q, %v; want the local answer", round, got, err)
		}
		return ""
	})
	links, err := agenttest.SkLookupLinksOf(ino)
	if err != nil || len(links) != 1 {
		t.Fatalf("round %d: sk_lookup links in the api pod's namespace while stealing: %v, %v; want one", round, links, err)
	}

	agents, err := f.c.Client.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue})
	if err != nil || len(agents.Items) != 1 {
		t.Fatalf("round %d: agent pods: %v, %v; want one", round, agents, err)
	}
	agentPod := &agents.Items[0]
	guard, err := containerPID(agentPod)
	if err != nil {
		t.Fatal(err)
	}
	procs := append([]int{guard}, childrenOf(guard)...)
	// The token is never on a command line (issue 15): not in the
	// arguments of the agent's processes, which every user of the node
	// sees with ps.
	secrets, err := f.c.Client.CoreV1().Secrets(f.ns).List(ctx, metav1.ListOptions{LabelSelector: agentpod.LabelApp + "=" + agentpod.AppValue})
	if err != nil || len(secrets.Items) != 1 || len(secrets.Items[0].Data[agentpod.SecretKey]) == 0 {
		t.Fatalf("round %d: the session's token Secret: %v, %v", round, secrets, err)
	}
	token := secrets.Items[0].Data[agentpod.SecretKey]
	for _, pid := range procs {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || bytes.Contains(cmdline, token) {
			t.Fatalf("round %d: agent process %d: the token is on its command line %q (%v)", round, pid, cmdline, err)
		}
	}

	deleted := time.Now()
	if out, err := f.kubectlRun(t, "delete", "pod", agentPod.Name, "--grace-period=0", "--force", "--wait=false"); err != nil {
		t.Fatalf("kubectl delete --force: %v\n%s", err, out)
	}
	// The moment the last agent process was seen dead (its fds closed),
	// and the moment the api app answered again.
	var died, answered time.Time
	for died.IsZero() || answered.IsZero() {
		now := time.Now()
		if died.IsZero() && !anyAlive(procs) {
			died = now
		}
		if answered.IsZero() {
			if got, err := getFrom(ctx, from, url+"/", 200*time.Millisecond); err == nil && strings.HasPrefix(got, "from-pod "+apiName) {
				answered = time.Now()
			}
		}
		if now.Sub(deleted) > 90*time.Second {
			t.Fatalf("round %d: 90 s after the forced delete: agent processes %v dead=%v, api answered=%v", round, procs, !died.IsZero(), !answered.IsZero())
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The app may answer before the last process is seen dead: the link
	// goes with the worker, the guard may outlive it by a few ms.
	if gap := answered.Sub(died); gap > time.Second {
		t.Errorf("round %d: the api app answered %v after the agent died, want within 1 s", round, gap)
	}
	if links, err := agenttest.SkLookupLinksOf(ino); err != nil || len(links) != 0 {
		t.Errorf("round %d: sk_lookup links left in the api pod's namespace: %v, %v", round, links, err)
	}
	f.iptablesClean(t, "app="+apiName)
	// From the api pod's own loopback too.
	if out, err := f.podExec(t, "deploy/"+apiName, "wget -qO- http://127.0.0.1:"+strconv.Itoa(appPort)+"/ 2>&1"); err != nil || !strings.HasPrefix(out, "from-pod "+apiName) {
		t.Errorf("round %d: api pod's loopback after the agent died: %q, %v", round, out, err)
	}
	s.stop(t)
	f.agentsGone(t, f.ns)
	return died.Sub(deleted), answered.Sub(deleted)
}

// durations summarises ds: min, median, max.
func durations(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("n=%d min %v median %v max %v (all: %v)", len(s), r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), ds)
}

// getFrom GETs url from inside ns and returns the trimmed body.
func getFrom(ctx context.Context, ns netns.Namespace, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return ns.DialContext(ctx, nil, network, addr)
		},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body)), err
}

// childrenOf lists the child processes of pid.
func childrenOf(pid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// anyAlive reports whether any of pids still runs (a zombie has exited:
// its file descriptors are closed).
func anyAlive(pids []int) bool {
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(data)
		if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X' {
			return true
		}
	}
	return false
}
