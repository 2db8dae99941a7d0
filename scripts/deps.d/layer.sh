#!/usr/bin/env bash
# The layer's tests compile C (the layer, two small probe programs) with make
# and gcc, and run curl, python3, node and socat (installed by scripts/deps.sh).
set -euo pipefail
need=()
command -v make >/dev/null 2>&1 || need+=(make)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps(layer): missing ${need[*]}; run as root or install them" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
