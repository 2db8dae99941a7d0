#!/usr/bin/env bash
# Loads image tarballs (docker-save or OCI archive format) into the real
# node's containerd, without any registry: `make cluster-load IMAGE=FILE`.
# With no argument it loads every tarball of the images directory
# (.cache/images, built by `make images`) that changed since it was last
# loaded. Prints the references it loaded. See docs/cluster.md.
set -euo pipefail
# shellcheck source=cluster-env.sh
source "$(dirname "$0")/cluster-env.sh"
# shellcheck source=cluster-node.sh
source "$(dirname "$0")/cluster-node.sh"

if [ -z "$(pid_of containerd)" ]; then
  echo "cluster-load: the real node is not running; run 'make cluster-up' (as root) first" >&2
  exit 1
fi
if (($# == 0)); then
  node_import_images
  exit 0
fi
for tar in "$@"; do
  [ -f "$tar" ] || {
    echo "cluster-load: $tar: no such file" >&2
    exit 1
  }
  ctr -a "$node_sock" -n k8s.io images import --all-platforms "$tar" |
    sed -n 's/^unpacking \(.*\) (sha256:.*/cluster-load: loaded \1/p'
done
