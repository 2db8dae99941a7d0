package kubetest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// RealNode is the cluster's real node: containerd and a kubelet on a bridge
// of their own, with kube-proxy and CoreDNS (scripts/cluster-node.sh). Pods
// scheduled there really run, unlike kwok's.
type RealNode struct {
	// Name is the Node object's name.
	Name string
	// IP is the node's address (the bridge's), also the cluster DNS server.
	IP string
	// Taint keeps other pods off the node; RealNodePod tolerates it.
	Taint string
	// ContainerdSock is the node's containerd socket (for `ctr`).
	ContainerdSock string
}

// Images are the references of the images loaded into the real node
// (`make images`).
type Images struct {
	Busybox, Agent, Pause string
}

// RealNode returns the cluster's real node. It fails the test when the
// cluster has none: cluster-up.sh starts one whenever it runs as root, so
// only a run without root (which cannot run a node) skips.
func (c *Cluster) RealNode(t testing.TB) RealNode {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the real node needs root (containerd, kubelet, iptables)")
	}
	env, err := readEnvFile(filepath.Join(c.StateDir, "cluster.env"))
	if err != nil {
		t.Fatalf("real node: %v", err)
	}
	n := RealNode{Name: env["NODE"], IP: env["NODE_IP"], Taint: env["NODE_TAINT"], ContainerdSock: env["CONTAINERD_SOCK"]}
	if n.Name == "" {
		t.Fatalf("the local cluster has no real node (started with MIRRORD_CLUSTER_NODE=0?); run `make cluster-down cluster-up` as root")
	}
	return n
}

// Images returns the references of the locally built images, read from
// the .ref files `make images` writes next to the tarballs.
func (c *Cluster) Images(t testing.TB) Images {
	t.Helper()
	dir := envOr("MIRRORD_IMAGES_DIR", filepath.Join(c.Root, ".cache", "images"))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name+".ref"))
		if err != nil {
			t.Fatalf("image %s: %v (run `make images`)", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	return Images{Busybox: read("busybox"), Agent: read("mirrord-agent"), Pause: read("pause")}
}

// Toleration lets a pod onto the real node.
func (n RealNode) Toleration() corev1.Toleration {
	return corev1.Toleration{Key: n.Taint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
}

// PodSpec is a pod spec for the real node: pinned to it, tolerating its
// taint, never pulling, quick to stop.
func (n RealNode) PodSpec(containers ...corev1.Container) corev1.PodSpec {
	grace := int64(1)
	for i := range containers {
		if containers[i].ImagePullPolicy == "" {
			containers[i].ImagePullPolicy = corev1.PullNever
		}
	}
	return corev1.PodSpec{
		NodeSelector:                  map[string]string{"kubernetes.io/hostname": n.Name},
		Tolerations:                   []corev1.Toleration{n.Toleration()},
		TerminationGracePeriodSeconds: &grace,
		Containers:                    containers,
	}
}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok {
			out[k] = v
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
