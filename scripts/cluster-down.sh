#!/usr/bin/env bash
# Stops the local control plane started by cluster-up.sh. Order matters:
# kwok, scheduler and controller-manager first, then the apiserver while
# etcd is still up (stopping both at once can leave the apiserver hanging),
# then etcd. Keeps certificates and etcd data unless --purge is given.
set -euo pipefail
# shellcheck source=cluster-env.sh
source "$(dirname "$0")/cluster-env.sh"

[ -d "$state" ] || exit 0
mkdir -p "$state/run"
exec 9>"$state/lock"
flock 9
for ((i = ${#components[@]} - 1; i >= 0; i--)); do
  stop_component "${components[$i]}"
done
rm -f "$state/cluster.env"
if [ "${1:-}" = --purge ]; then
  rm -rf "$state/etcd" "$state/pki" "$state/logs" "$state"/*.kubeconfig "$state/kubeconfig"
fi
echo "cluster-down: stopped (state $state)"
