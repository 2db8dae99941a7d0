#!/usr/bin/env bash
# The language server's editor test drives headless neovim (>= 0.7) through
# its built-in LSP client. Idempotent: installs neovim only when missing.
set -euo pipefail
if ! command -v nvim >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps(server): neovim is missing; run as root or install it" >&2; exit 1
  fi
  echo "deps(server): installing neovim"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends neovim >/dev/null
fi
