#!/usr/bin/env bash
# The VS Code extension's tests need node >= 20 and npm (npm ci, esbuild, tsc).
# Idempotent: installs npm only when it is missing; refuses an old node.
set -euo pipefail
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps(vscode): npm is missing; run as root or install it" >&2; exit 1
  fi
  echo "deps(vscode): installing npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "deps(vscode): node $(node --version) is too old; the extension needs node >= 20" >&2
  exit 1
fi
