#!/usr/bin/env bash
# The local control plane (scripts/cluster-*.sh, kube/kubetest) needs flock
# and setsid (util-linux), openssl and curl. Installs only what is missing.
set -euo pipefail
need=()
command -v flock >/dev/null 2>&1 || need+=(util-linux)
command -v setsid >/dev/null 2>&1 || need+=(util-linux)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps(cluster): missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
