#!/usr/bin/env bash
# Installs the system tools the tests need, idempotently: a package that is
# already there is not touched, and apt-get runs only when something is missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have iptables || need+=(iptables)
have ip       || need+=(iproute2)
have nvim     || need+=(neovim)
have socat    || need+=(socat)
have curl     || need+=(curl)
have openssl  || need+=(openssl)
have python3  || need+=(python3)
have node     || need+=(nodejs npm)
have gcc      || need+=(gcc libc6-dev)
have git      || need+=(git)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need[*]}; run as root or install them" >&2; exit 1
  fi
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Area scripts (scripts/deps.d/*.sh) install anything else their tests need.
for f in "$(dirname "$0")"/deps.d/*.sh; do
  [ -e "$f" ] && bash "$f"
done
echo "deps: ok"
