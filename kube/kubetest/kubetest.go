// Package kubetest gives tests a real Kubernetes control plane: the local
// loopback cluster of scripts/cluster-up.sh (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok, and as root one real node:
// containerd, kubelet, kube-proxy, CoreDNS — see RealNode), started on first use or
// reused when one is already running from the same state directory, plus a
// namespace of its own per test, kwok fake nodes, and helpers for what kwok
// does not do (container ids).
//
// A package using it wires the lifecycle through TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }
//
// Every test process holds a shared lock on the state directory while it
// uses the cluster; when the last one finishes, a cluster that tests started
// is stopped (one a developer started with `make cluster-up` is left running).
// Missing binaries fail the test with a message to run `make cluster-build`.
package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// components are the binaries the cluster needs; nodeComponents those of
// the real node, started when the tests run as root.
var (
	components     = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
	nodeComponents = []string{"kubelet", "kube-proxy", "coredns"}
)

// startTimeout bounds starting (or reusing) the cluster.
const startTimeout = 3 * time.Minute

// Cluster is a running local control plane.
type Cluster struct {
	// Root is the repository root.
	Root string
	// Bin holds the cluster's binaries (kubectl among them).
	Bin string
	// StateDir holds kubeconfigs, certificates, logs and pids.
	StateDir string
	// Kubeconfig has two contexts: "mirrord-local" (admin, the current one)
	// and "mirrord-local-limited" (the user "limited", bound to no roles).
	Kubeconfig        string
	AdminKubeconfig   string
	LimitedKubeconfig string
	// Admin is the admin's REST config (system:masters).
	Admin *rest.Config
	// Limited is the REST config of the user "limited".
	Limited *rest.Config
	// Client and Dynamic act as the admin.
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
}

// LimitedUser is the user name of Cluster.Limited.
const LimitedUser = "limited"

var (
	mu       sync.Mutex
	shared   *Cluster
	startErr error
	users    *os.File // shared flock on the state dir while in use
	atExit   []func()
)

// AtExit registers f to run after all tests of the package (before the
// cluster is released), e.g. to delete fixtures shared by benchmarks.
func AtExit(f func()) {
	mu.Lock()
	defer mu.Unlock()
	atExit = append(atExit, f)
}

// Run runs the tests and then releases the cluster (stopping it when this
// was the last test process using a cluster tests started).
func Run(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	fs := atExit
	atExit = nil
	mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	if err := release(); err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start returns the running cluster, starting it on first use.
func Start(t testing.TB) *Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && startErr == nil {
		shared, startErr = start()
	}
	if startErr != nil {
		t.Fatalf("local control plane: %v", startErr)
	}
	return shared
}

// RepoRoot walks up from the working directory to the directory holding
// scripts/cluster-up.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "cluster-up.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/cluster-up.sh not found above the working directory")
		}
		dir = parent
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func start() (*Cluster, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cache := envOr("MIRRORD_CLUSTER_CACHE", filepath.Join(root, ".cache", "cluster"))
	bin := envOr("MIRRORD_CLUSTER_BIN", filepath.Join(cache, "bin"))
	state := envOr("MIRRORD_CLUSTER_STATE", filepath.Join(cache, "state"))
	var missing []string
	need := components
	if os.Geteuid() == 0 && os.Getenv("MIRRORD_CLUSTER_NODE") != "0" {
		need = append(append([]string{}, components...), nodeComponents...)
	}
	for _, c := range need {
		if _, err := os.Stat(filepath.Join(bin, c)); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("binaries %s missing in %s: run `make cluster-build` first (about 10 minutes cold)",
			strings.Join(missing, ", "), bin)
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	// The shared lock is taken before starting, so a finishing process
	// cannot stop the cluster between our start and our use.
	f, err := os.OpenFile(filepath.Join(state, "users.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	users = f
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "cluster-up.sh"))
	cmd.Env = append(os.Environ(), "MIRRORD_CLUSTER_MANAGED_BY=test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("scripts/cluster-up.sh: %w\n%s", err, out)
	}
	c := &Cluster{
		Root:              root,
		Bin:               bin,
		StateDir:          state,
		Kubeconfig:        filepath.Join(state, "kubeconfig"),
		AdminKubeconfig:   filepath.Join(state, "admin.kubeconfig"),
		LimitedKubeconfig: filepath.Join(state, "limited.kubeconfig"),
	}
	if c.Admin, err = restConfig(c.AdminKubeconfig); err != nil {
		return nil, err
	}
	if c.Limited, err = restConfig(c.LimitedKubeconfig); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Admin); err != nil {
		return nil, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Admin); err != nil {
		return nil, err
	}
	return c, nil
}

func restConfig(path string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	rc.UserAgent = "mirrord-ls-kubetest"
	rc.QPS, rc.Burst = 200, 400
	return rc, nil
}

// LingerEnv is how long (a Go duration, default 30s) a cluster that tests
// started keeps running after the last test process finished, so the next
// package's tests reuse it instead of starting a new one.
const LingerEnv = "MIRRORD_CLUSTER_LINGER"

// release drops this process's shared lock and, when tests started the
// cluster, leaves a detached timer that stops it after the linger time
// unless a test process uses it again by then (scripts/cluster-down.sh
// --if-unused checks both).
func release() error {
	mu.Lock()
	defer mu.Unlock()
	if users == nil {
		return nil
	}
	err := users.Close() // drops the shared lock
	users = nil
	if err != nil || managedBy(shared) != "test" {
		return err
	}
	linger := 30 * time.Second
	if v := os.Getenv(LingerEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", LingerEnv, v, err)
		}
		linger = d
	}
	down := filepath.Join(shared.Root, "scripts", "cluster-down.sh")
	cmd := exec.Command("bash", "-c", `sleep "$1" && exec bash "$2" --if-unused`, "linger",
		strconv.FormatFloat(linger.Seconds(), 'f', 3, 64), down)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("schedule cluster stop: %w", err)
	}
	return cmd.Process.Release()
}

// managedBy reads MANAGED_BY from the state directory's cluster.env.
func managedBy(c *Cluster) string {
	if c == nil {
		return ""
	}
	f, err := os.Open(filepath.Join(c.StateDir, "cluster.env"))
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "MANAGED_BY="); ok {
			return v
		}
	}
	return ""
}
