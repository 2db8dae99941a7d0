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

# Components in start order; cluster-down.sh stops them in reverse.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# pid_of NAME: the pid of a running component, or nothing.
pid_of() {
  local f=$state/run/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$bin/$1 "; then
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
