#!/usr/bin/env bash
# `make demo`: the mirrord developer loop on this machine, end to end.
#   1. a config with mistakes, checked by `mirrord verify-config`;
#   2. the same file in a real editor: headless neovim + mirrord-ls;
#   3. a "pod" in a network namespace with a real mirrord-agent, and
#      `mirrord exec` running curl/python3 inside the pod's context (root);
#   4. target listing from a real kube-apiserver (the loopback control plane;
#      built by `make cluster-build`, ~10 min the first time).
# Everything it starts is stopped on exit. DEMO_CLUSTER=0 skips part 4.
set -euo pipefail
cd "$(dirname "$0")/.."
demo_bin=$PWD/bin
work=$(mktemp -d /tmp/mirrord-demo.XXXXXX)
ns=mdemo$$
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ip link del "${ns}h" 2>/dev/null || true
  if [ "${started_cluster:-0}" = 1 ]; then
    bash scripts/cluster-down.sh >/dev/null 2>&1 || true
  elif [ "${created_ns:-0}" = 1 ]; then
    api -X DELETE "$server/api/v1/namespaces/shop" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_for FILE PATTERN SECONDS: wait until FILE contains PATTERN.
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1; fi
    sleep 0.05
  done
}

step "1. A config with mistakes, checked by the CLI"
mkdir -p "$work/.mirrord"
cat >"$work/.mirrord/mirrord.json" <<'JSON'
{
  "target": "deploy/api/contaner/app",
  "feture": { "env": true },
  "feature": {
    "fs": { "mode": "rad" },
    "network": {
      "incoming": { "mode": "steal", "ports": [80], "ignore_ports": [8080],
                    "http_filter": { "header_filter": "^X-User: (?!bot)", "path_filter": "^/api" } },
      "outgoing": { "filter": { "remote": ["tcp://10.0.0.0/33:5432"] } }
    }
  }
}
JSON
cat -n "$work/.mirrord/mirrord.json"
echo
"$demo_bin/mirrord" verify-config -o text "$work/.mirrord/mirrord.json" || true

step "2. The same file in a real editor: headless neovim + mirrord-ls"
if command -v nvim >/dev/null; then
  MIRRORD_LS_BIN="$demo_bin/mirrord-ls" MIRRORD_LS_CONFIG="$work/.mirrord/mirrord.json" \
    MIRRORD_LS_OUT="$work/nvim.json" MIRRORD_LS_LOG="$work/ls.log" \
    timeout 60 nvim --headless --clean -n -i NONE -c "luafile server/testdata/nvim/lsp_test.lua" >/dev/null 2>&1 || true
  python3 - "$work/nvim.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("error"):
    print("neovim reported:", r["error"])
for d in r.get("diagnostics", []):
    sev = {1: "error", 2: "warning"}.get(d["severity"], "info")
    print(f"  line {d['lnum']+1}, col {d['col']+1}: {sev}: {d['message']}")
labels = [c["label"] for c in r.get("completion", [])]
print(f'  completion after typing {{"feature": {{"fs": {{"mo  ->  {", ".join(labels[:8])}')
PY
else
  echo "neovim is not installed (make deps installs it); skipping"
fi

step "3. A pod in a network namespace, a real agent, and mirrord exec"
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || [ ! -x "$demo_bin/mirrord-agent" ] || [ ! -f "$demo_bin/libmirrord_layer.so" ]; then
  echo "needs root, iproute2, bin/mirrord-agent and bin/libmirrord_layer.so; skipping"
else
  root=$work/podroot
  mkdir -p "$root/etc" "$root/app" "$work/www"
  printf '127.0.0.1 localhost\n10.213.9.2 orders.internal\n' >"$root/etc/hosts"
  printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
  printf 'database: postgres://orders-db:5432/orders\n' >"$root/app/config.yaml"
  printf '{"orders": [{"id": 1, "item": "coffee"}]}\n' >"$work/www/index.html"
  ip netns add "$ns"
  ip link add "${ns}h" type veth peer name "${ns}p"
  ip link set "${ns}p" netns "$ns"
  ip addr add 10.213.9.1/30 dev "${ns}h" && ip link set "${ns}h" up
  ip netns exec "$ns" ip addr add 10.213.9.2/30 dev "${ns}p"
  ip netns exec "$ns" ip link set "${ns}p" up
  ip netns exec "$ns" ip link set lo up
  # The "app" of the pod: an HTTP server that only listens inside the pod.
  ip netns exec "$ns" env -i PATH="$PATH" REMOTE_ONLY="hello from the pod" DATABASE_URL="postgres://orders-db/orders" \
    python3 -m http.server 80 --bind 10.213.9.2 --directory "$work/www" >"$work/app.log" 2>&1 &
  app=$!; pids+=("$app")
  wait_for <(ip netns exec "$ns" ss -ltn 2>/dev/null) ":80" 10 2>/dev/null || true
  "$demo_bin/mirrord-agent" --listen 127.0.0.1:0 --token demo-token --pid "$app" --root "$root" >"$work/agent.log" 2>&1 &
  pids+=($!)
  wait_for "$work/agent.log" "agent ready" 20
  addr=$(sed -n 's/^listening on //p' "$work/agent.log" | head -1)
  echo "agent: $(grep 'agent ready' "$work/agent.log")  at $addr"
  export MIRRORD_AGENT_ADDRESS=$addr MIRRORD_AGENT_TOKEN=demo-token
  echo; echo "\$ mirrord exec -- curl -s http://orders.internal/     (a name and address only the pod knows)"
  "$demo_bin/mirrord" exec -- curl -s --max-time 10 http://orders.internal/ || true
  echo; echo "\$ mirrord exec -- python3 -c 'print(os.environ[\"REMOTE_ONLY\"])'"
  "$demo_bin/mirrord" exec -- python3 -c 'import os; print(os.environ["REMOTE_ONLY"])' || true
  echo; echo "\$ mirrord exec -- cat /app/config.yaml     (a file only in the pod's root)"
  "$demo_bin/mirrord" exec -- cat /app/config.yaml || true
  unset MIRRORD_AGENT_ADDRESS MIRRORD_AGENT_TOKEN
fi

step "4. Targets from a real kube-apiserver"
if [ "${DEMO_CLUSTER:-1}" = 0 ]; then
  echo "DEMO_CLUSTER=0; skipping"
else
  make --no-print-directory cluster-build
  source scripts/cluster-env.sh
  # Stop the cluster at the end only if the demo started it.
  [ -n "$(pid_of kube-apiserver)" ] || started_cluster=1
  if ! bash scripts/cluster-up.sh >"$work/cluster.log" 2>&1; then
    cat "$work/cluster.log"; exit 1
  fi
  export KUBECONFIG=$state/admin.kubeconfig
  server=$(grep -o 'server: *[^ ,}]*' "$KUBECONFIG" | head -1 | sed 's/server: *//')
  token=$(grep -o 'token: *[A-Za-z0-9._-]*' "$KUBECONFIG" | head -1 | sed 's/token: *//')
  api() { curl -sS --fail -k -A mirrord-demo -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
  # A fake node (kwok makes it Ready and runs its pods' lifecycle).
  api -X POST "$server/api/v1/nodes" -d '{"metadata": {"name": "kwok-node-0",
      "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok", "kubernetes.io/hostname": "kwok-node-0"}},
    "status": {"allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"}, "capacity": {"cpu": "32", "memory": "64Gi", "pods": "110"}}}' >/dev/null 2>&1 || true
  api -X POST "$server/api/v1/namespaces" -d '{"metadata":{"name":"shop"}}' >/dev/null 2>&1 && created_ns=1
  deadline=$((SECONDS + 30))
  until api "$server/api/v1/namespaces/shop/serviceaccounts/default" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "namespace shop has no default service account" >&2; exit 1; }
    sleep 0.2
  done
  api -X POST "$server/apis/apps/v1/namespaces/shop/deployments" -d '{
    "metadata": {"name": "orders"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "orders"}},
      "template": {"metadata": {"labels": {"app": "orders"}},
        "spec": {"nodeSelector": {"type": "kwok"},
                 "containers": [{"name": "app", "image": "orders:1"}, {"name": "istio-proxy", "image": "proxy:1"}]}}}}' >/dev/null 2>&1 || true
  deadline=$((SECONDS + 30))
  until "$demo_bin/mirrord" ls -n shop 2>/dev/null | grep -q deployment/orders; do
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  echo "\$ MIRRORD_LS_RICH_OUTPUT=true mirrord ls -n shop"
  MIRRORD_LS_RICH_OUTPUT=true "$demo_bin/mirrord" ls -n shop || true
  echo; echo "\$ mirrord ls -n shop -o table"
  "$demo_bin/mirrord" ls -n shop -o table || true
fi

step "Done"
echo "Connect your editor: docs/editors.md. Everything the demo started has been stopped."
