#!/usr/bin/env bash
# `make demo`: the mirrord developer loop on this machine, end to end.
#   1. a config with mistakes, checked by `mirrord verify-config`;
#   2. the same file in a real editor: headless neovim + mirrord-ls;
#   3. the main job on the local cluster's real node (root): `mirrord exec`
#      runs a shell with a Deployment's environment, files, DNS and network,
#      then steals its incoming traffic to a local python3 server;
#   4. the targets an editor's picker shows (`mirrord ls`).
# The cluster is built by `make cluster-build` (~15 min the first time).
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
demo_bin=$PWD/bin
work=$(mktemp -d /tmp/mirrord-demo.XXXXXX)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${started_cluster:-0}" = 1 ]; then
    bash scripts/cluster-down.sh >/dev/null 2>&1 || true
  elif [ "${created_ns:-0}" = 1 ]; then
    "$kubectl" delete namespace shop --grace-period=0 --force >/dev/null 2>&1 || true
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

step "3. The main job: a local process in the context of a real pod"
if [ "$(id -u)" != 0 ]; then
  echo "the real node needs root; skipping"
else
  source scripts/cluster-env.sh
  # Stop the cluster at the end only if the demo started it.
  [ -n "$(pid_of kube-apiserver)" ] || started_cluster=1
  echo "starting the local cluster with its real node (the first build takes ~15 min)..."
  if ! bash scripts/cluster-up.sh >"$work/cluster.log" 2>&1; then
    cat "$work/cluster.log"; exit 1
  fi
  grep -E "image loaded|node .* ready|ready in" "$work/cluster.log" || true
  export KUBECONFIG=$state/admin.kubeconfig
  kubectl=$bin/kubectl
  busybox=$(cat .cache/images/busybox.ref)
  agent_image=$(cat .cache/images/mirrord-agent.ref)
  "$kubectl" create namespace shop >/dev/null && created_ns=1
  until "$kubectl" -n shop get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done
  # Two workloads on the real node: orders (only reachable inside the
  # cluster) and api, the one we debug; a file and variables only the pod has.
  for app in api orders; do
    cat <<YAML | "$kubectl" -n shop apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: $app}
spec:
  selector: {matchLabels: {app: $app}}
  template:
    metadata: {labels: {app: $app}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $node_name}
      tolerations: [{key: $node_taint_key, operator: Exists}]
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: $busybox
        imagePullPolicy: Never
        env: [{name: DATABASE_URL, value: "postgres://orders-db.shop:5432/$app"}]
        command: [sh, -c, 'mkdir -p /www /app && echo "{\"service\": \"$app\", \"pod\": \"\$HOSTNAME\"}" > /www/index.html && echo "api_key: only-in-the-pod" > /app/secrets.yaml && exec httpd -f -p 8080 -h /www']
---
apiVersion: v1
kind: Service
metadata: {name: $app}
spec: {selector: {app: $app}, ports: [{port: 80, targetPort: 8080}]}
YAML
  done
  "$kubectl" -n shop rollout status deploy/api deploy/orders --timeout=90s >/dev/null
  "$kubectl" -n shop get pods -o wide
  printf '{"target": {"namespace": "shop"}, "agent": {"image": "%s"}}\n' "$agent_image" >"$work/mirrord.json"
  echo; echo "\$ mirrord exec -f mirrord.json --target deployment/api -- sh -c 'echo \$DATABASE_URL; cat /app/secrets.yaml; curl -s http://orders/'"
  "$demo_bin/mirrord" exec -f "$work/mirrord.json" --target deployment/api -- \
    sh -c 'echo "$DATABASE_URL"; cat /app/secrets.yaml; curl -s --max-time 10 http://orders/' || true
  echo; echo "\$ mirrord exec -f mirrord.json --target deployment/api --steal -- python3 -m http.server 8080   (in the background)"
  mkdir -p "$work/local"
  echo '{"service": "api", "pod": "YOUR LAPTOP (stolen by mirrord)"}' >"$work/local/index.html"
  "$demo_bin/mirrord" exec -f "$work/mirrord.json" --target deployment/api --steal -- \
    python3 -m http.server 8080 --directory "$work/local" >"$work/steal.log" 2>&1 &
  pids+=($!)
  wait_for "$work/steal.log" "ready" 60
  echo "\$ kubectl -n shop exec deploy/orders -- wget -qO- http://api/     (traffic inside the cluster)"
  # The redirect is in place once the local server's listen reached the agent.
  deadline=$((SECONDS + 30))
  until out=$("$kubectl" -n shop exec deploy/orders -- wget -qO- http://api/ 2>&1) && [[ $out == *LAPTOP* ]]; do
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  echo "$out"
  kill -TERM "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  echo "\$ kubectl -n shop exec deploy/orders -- wget -qO- http://api/     (after the session: the pod answers again)"
  "$kubectl" -n shop exec deploy/orders -- wget -qO- http://api/ || true

  step "4. Targets, as an editor's picker lists them"
  echo "\$ mirrord ls -n shop -o table"
  "$demo_bin/mirrord" ls -n shop -o table || true
fi

step "Done"
echo "Connect your editor: docs/editors.md. Everything the demo started has been stopped."
