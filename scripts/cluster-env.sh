# Sourced by cluster-up.sh and cluster-down.sh: where the local control plane
# keeps its state and which loopback ports it listens on. Every value can be
# overridden from the environment; see docs/cluster.md.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MIRRORD_CLUSTER_CACHE:-$root/.cache/cluster}
bin=${MIRRORD_CLUSTER_BIN:-$cache/bin}
state=${MIRRORD_CLUSTER_STATE:-$cache/state}
port_base=${MIRRORD_CLUSTER_PORT_BASE:-17300}
etcd_port=${MIRRORD_CLUSTER_ETCD_PORT:-$port_base}
etcd_peer_port=${MIRRORD_CLUSTER_ETCD_PEER_PORT:-$((port_base + 1))}
apiserver_port=${MIRRORD_CLUSTER_APISERVER_PORT:-$((port_base + 2))}
controller_manager_port=${MIRRORD_CLUSTER_CONTROLLER_MANAGER_PORT:-$((port_base + 3))}
scheduler_port=${MIRRORD_CLUSTER_SCHEDULER_PORT:-$((port_base + 4))}
kwok_port=${MIRRORD_CLUSTER_KWOK_PORT:-$((port_base + 5))}
kubelet_port=$((port_base + 6))
kubelet_healthz_port=$((port_base + 7))
kube_proxy_healthz_port=$((port_base + 8))
kube_proxy_metrics_port=$((port_base + 9))
coredns_health_port=$((port_base + 10))

# The real node (scripts/node-up.sh): containerd + kubelet + kube-proxy +
# CoreDNS on a bridge of its own. MIRRORD_CLUSTER_NODE=0 leaves it out (the
# control plane and kwok alone, which needs no root).
if [ -z "${MIRRORD_CLUSTER_NODE:-}" ]; then
  if [ "$(id -u)" = 0 ]; then MIRRORD_CLUSTER_NODE=1; else MIRRORD_CLUSTER_NODE=0; fi
fi
node_enabled=$MIRRORD_CLUSTER_NODE
node_name=${MIRRORD_CLUSTER_NODE_NAME:-mirrord-node}
node_bridge=${MIRRORD_CLUSTER_NODE_BRIDGE:-mirrord0}
node_net=${MIRRORD_CLUSTER_NODE_NET:-10.245.0} # a /24; 10.244/16 is kwok's
node_cidr=$node_net.0/24
node_ip=$node_net.1
node_state=$state/node
node_sock=$node_state/containerd.sock
# The taint that keeps kwok fixtures off the real node; real-node pods
# tolerate it.
node_taint_key=mirrord-ls.dev/real-node
images_dir=${MIRRORD_IMAGES_DIR:-$root/.cache/images}

# Components in start order; cluster-down.sh stops them in reverse.
control_plane=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
node_components=(containerd kubelet kube-proxy coredns)
components=("${control_plane[@]}")
if [ "$node_enabled" = 1 ]; then
  components+=("${node_components[@]}")
fi

# binary_of NAME: the executable a component runs (containerd is Debian's).
binary_of() {
  case $1 in
  containerd) command -v containerd || echo /usr/bin/containerd ;;
  *) echo "$bin/$1" ;;
  esac
}

# pid_of NAME: the pid of a running component, or nothing.
pid_of() {
  local f=$state/run/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(binary_of "$1") "; then
    echo "$pid"
  fi
}

# stop_component NAME: TERM, then KILL after a deadline.
stop_component() {
  local name=$1 pid deadline
  pid=$(pid_of "$name")
  if [ -z "$pid" ]; then
    rm -f "$state/run/$name.pid"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + ${MIRRORD_CLUSTER_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "cluster: $name (pid $pid) did not stop in time; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$state/run/$name.pid"
}
