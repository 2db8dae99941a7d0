#!/usr/bin/env bash
# Stops the local cluster started by cluster-up.sh: the real node first
# (scripts/cluster-node.sh node_down leaves no process, mount, cgroup, link,
# iptables rule or sysctl of it behind), then the control plane. Order matters:
# kwok, scheduler and controller-manager first, then the apiserver while
# etcd is still up (stopping both at once can leave the apiserver hanging),
# then etcd. Keeps certificates and etcd data unless --purge is given.
#
# --if-unused (used by kube/kubetest after the last test process): stops the
# cluster only when tests started it (MANAGED_BY=test in cluster.env) and no
# test process holds the shared lock on users.lock.
set -euo pipefail
# shellcheck source=cluster-env.sh
source "$(dirname "$0")/cluster-env.sh"
# shellcheck source=cluster-node.sh
source "$(dirname "$0")/cluster-node.sh"

[ -d "$state" ] || exit 0
mkdir -p "$state/run"
if [ "${1:-}" = --if-unused ]; then
  grep -qx 'MANAGED_BY=test' "$state/cluster.env" 2>/dev/null || exit 0
  exec 8>>"$state/users.lock"
  flock -n -x 8 || exit 0
fi
exec 9>"$state/lock"
flock 9
# The node first (its pods' processes, mounts, cgroups, links and rules),
# then the control plane.
node_down
for ((i = ${#control_plane[@]} - 1; i >= 0; i--)); do
  stop_component "${control_plane[$i]}"
done
rm -f "$state/cluster.env"
if [ "${1:-}" = --purge ]; then
  rm -rf "$state/etcd" "$state/pki" "$state/logs" "$state"/*.kubeconfig "$state/kubeconfig"
fi
echo "cluster-down: stopped (state $state)"
