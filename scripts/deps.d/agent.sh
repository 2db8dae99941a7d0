#!/usr/bin/env bash
# Tools the agent tests need beyond scripts/deps.sh: ss (iproute2) is used to
# wait for the socat relay in the benchmark; iptables, ip, curl and socat
# come from scripts/deps.sh. Idempotent.
set -euo pipefail
need=()
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps(agent): missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
