#!/usr/bin/env bash
# Installs code-server (VS Code server + web workbench, from npm) for the
# real-editor test of extensions/vscode, idempotently, under
#   .cache/code-server-<version>/node_modules/code-server
# and prints that directory. A finished install is marked by a stamp file;
# a half-done one is removed and redone. Reaches only the npm registry:
# node-gyp builds node-pty against the headers of Debian's nodejs
# (nodedir=/usr), and @vscode/ripgrep, which downloads its binary at
# install, finds it in its cache seeded with Debian's rg.
# code-server 4.100.3 is Code 1.100.3, the newest that runs on node 20.
set -euo pipefail
version=${CODE_SERVER_VERSION:-4.100.3}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/.cache/code-server-$version
stamp=$dir/.installed
entry=$dir/node_modules/code-server/out/node/entry.js
if [ -e "$stamp" ] && [ -e "$entry" ]; then
  echo "$dir/node_modules/code-server"
  exit 0
fi
for c in node npm rg cc make python3; do
  command -v "$c" >/dev/null || { echo "code-server-install: $c is missing (make deps)" >&2; exit 1; }
done
mkdir -p "$root/.cache"
exec 9>"$root/.cache/code-server-$version.lock"
flock 9
if [ -e "$stamp" ] && [ -e "$entry" ]; then
  echo "$dir/node_modules/code-server"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# @vscode/ripgrep's postinstall looks for this archive in
# $TMPDIR/vscode-ripgrep-cache-<its version>/ before downloading it.
for rgv in 1.15.11; do
  mkdir -p "$tmp/vscode-ripgrep-cache-$rgv"
  tar -czf "$tmp/vscode-ripgrep-cache-$rgv/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" \
    -C "$(dirname "$(command -v rg)")" rg
done
echo '{"name":"code-server-cache","private":true}' >"$dir/package.json"
echo "code-server-install: npm install code-server@$version (a few minutes)" >&2
(
  cd "$dir"
  TMPDIR=$tmp npm_config_yes=true npm_config_nodedir=/usr npm_config_unsafe_perm=true \
    nice -n 10 npm install --no-audit --no-fund --no-update-notifier --loglevel=error \
    "code-server@$version" >&2
)
[ -e "$entry" ] || { echo "code-server-install: $entry missing after install" >&2; exit 1; }
touch "$stamp"
echo "$dir/node_modules/code-server"
