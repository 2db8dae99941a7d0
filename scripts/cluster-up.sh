#!/usr/bin/env bash
# Starts the loopback-only local control plane built by cluster-build.sh:
# etcd, kube-apiserver (token auth, RBAC), kube-controller-manager,
# kube-scheduler and kwok (fake nodes). Reuses a cluster that is already
# running from the same state directory. Writes kubeconfigs into the state
# directory:
#   kubeconfig          contexts "mirrord-local" (admin, system:masters)
#                       and "mirrord-local-limited" (user "limited", no roles)
#   admin.kubeconfig    admin only
#   limited.kubeconfig  the limited user only
# MIRRORD_CLUSTER_MANAGED_BY (dev|test, default dev) is recorded so tests
# know whether they may stop a cluster they did not start. See docs/cluster.md.
set -euo pipefail
# shellcheck source=cluster-env.sh
source "$(dirname "$0")/cluster-env.sh"
# shellcheck source=cluster-node.sh
source "$(dirname "$0")/cluster-node.sh"

managed_by=${MIRRORD_CLUSTER_MANAGED_BY:-dev}
ready_timeout=${MIRRORD_CLUSTER_READY_TIMEOUT:-120}

for b in "${components[@]}"; do
  if [ ! -x "$(binary_of "$b")" ]; then
    echo "cluster-up: $(binary_of "$b") is missing; run 'make cluster-build' (and 'make deps' for containerd) first" >&2
    exit 2
  fi
done
[ -f "$cache/kwok-stages.yaml" ] || {
  echo "cluster-up: $cache/kwok-stages.yaml is missing; run 'make cluster-build' first" >&2
  exit 2
}

mkdir -p "$state/run" "$state/logs" "$state/pki"
exec 9>"$state/lock"
flock 9

deadline=$((SECONDS + ready_timeout))
# wait_for WHAT COMMAND...: runs COMMAND until it succeeds or the deadline passes.
wait_for() {
  local what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    if [ -f "$state/run/$what.pid" ] && [ -z "$(pid_of "$what")" ]; then
      echo "cluster-up: $what exited; the end of $state/logs/$what.log:" >&2
      tail -n 5 "$state/logs/$what.log" | cut -c1-400 >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster-up: timed out after ${ready_timeout}s waiting for $what; logs in $state/logs/" >&2
      exit 1
    fi
    sleep 0.2
  done
}

api=https://127.0.0.1:$apiserver_port
api_get() { # PATH: GET as the admin, body on stdout, fails on HTTP errors.
  curl -sf --max-time 5 -A mirrord-cluster-up --cacert "$state/pki/ca.crt" \
    -H "Authorization: Bearer $(cat "$state/pki/admin.token")" "$api$1"
}
api_ready() { [ "$(api_get /readyz)" = ok ]; }

# A fully running cluster from this state directory is reused as is.
all_running=1
for c in "${components[@]}"; do
  [ -n "$(pid_of "$c")" ] || all_running=0
done
if [ $all_running = 1 ] && api_ready; then
  # A developer's `make cluster-up` takes over a cluster tests started, so
  # the tests do not stop it when they finish.
  if [ "$managed_by" = dev ] && [ -f "$state/cluster.env" ]; then
    sed -i 's/^MANAGED_BY=.*/MANAGED_BY=dev/' "$state/cluster.env"
  fi
  if [ "$node_enabled" = 1 ]; then
    node_import_images # images rebuilt since the node started
  fi
  echo "cluster-up: already running ($api, state $state)"
  exit 0
fi

# Half-started leftovers are stopped first (the node, then the control
# plane in reverse order, etcd last).
node_down
for ((i = ${#control_plane[@]} - 1; i >= 0; i--)); do
  stop_component "${control_plane[$i]}"
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$etcd_port" "$etcd_peer_port" "$apiserver_port" "$controller_manager_port" "$scheduler_port" "$kwok_port" \
  "$kubelet_healthz_port" "$kube_proxy_healthz_port" "$kube_proxy_metrics_port" "$coredns_health_port"; do
  port_free "$p" || {
    echo "cluster-up: port 127.0.0.1:$p is in use; set MIRRORD_CLUSTER_PORT_BASE to another base (default 17300)" >&2
    exit 1
  }
done

# From here on a failure stops what this run started: nothing is left
# running (or holding the ports) when cluster-up exits non-zero.
stop_on_failure() {
  local rc=$?
  [ "$rc" -eq 0 ] && return
  echo "cluster-up: failed; stopping what it started" >&2
  node_down >/dev/null 2>&1 || true
  for ((i = ${#control_plane[@]} - 1; i >= 0; i--)); do
    stop_component "${control_plane[$i]}" >/dev/null 2>&1 || true
  done
}
trap stop_on_failure EXIT

# Certificates, keys and tokens, created once per state directory.
pki=$state/pki
if [ ! -f "$pki/apiserver.crt" ]; then
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=mirrord-local-ca" 2>/dev/null
    cat >apiserver.ext <<EOF
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    openssl rand -hex 24 >admin.token
    openssl rand -hex 24 >limited.token
    printf '%s,admin,admin,"system:masters"\n%s,limited,limited\n' \
      "$(cat admin.token)" "$(cat limited.token)" >tokens.csv
    rm -f apiserver.csr apiserver.ext
  )
fi
# client_cert NAME SUBJECT: a client certificate signed by the cluster CA.
client_cert() {
  [ -f "$pki/$1.crt" ] && return
  (
    cd "$pki"
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  )
}
# The apiserver's identity toward kubelets (logs, exec, port-forward) and
# the real node's kubelet identity.
client_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
client_cert kubelet "/O=system:nodes/CN=system:node:$node_name"
chmod 600 "$pki"/*.key "$pki"/*.token "$pki/tokens.csv"

kubeconfig_for() { # FILE, then "CONTEXT USER TOKENFILE" triples; the first is current.
  local file=$1
  shift
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "- name: mirrord-local"
    echo "  cluster:"
    echo "    server: $api"
    echo "    certificate-authority: $pki/ca.crt"
    echo "contexts:"
    local -a items=("$@")
    local i
    for ((i = 0; i < ${#items[@]}; i += 3)); do
      echo "- name: ${items[$i]}"
      echo "  context: {cluster: mirrord-local, user: ${items[$((i + 1))]}, namespace: default}"
    done
    echo "users:"
    for ((i = 0; i < ${#items[@]}; i += 3)); do
      echo "- name: ${items[$((i + 1))]}"
      echo "  user: {token: $(cat "${items[$((i + 2))]}")}"
    done
    echo "current-context: ${items[0]}"
  } >"$file.tmp"
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}
kubeconfig_for "$state/admin.kubeconfig" mirrord-local admin "$pki/admin.token"
kubeconfig_for "$state/limited.kubeconfig" mirrord-local-limited limited "$pki/limited.token"
kubeconfig_for "$state/kubeconfig" mirrord-local admin "$pki/admin.token" \
  mirrord-local-limited limited "$pki/limited.token"

start() { # NAME ARGS...: starts a component in its own session.
  local name=$1
  shift
  # fd 9 (the state lock) must not leak into the long-lived process.
  setsid "$(binary_of "$name")" "$@" >"$state/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/run/$name.pid"
}

start etcd --name mirrord-local --data-dir "$state/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "mirrord-local=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync --log-level warn
wait_for etcd curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

start kube-apiserver --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$apiserver_port" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
  --authorization-mode Node,RBAC \
  --service-account-key-file "$pki/sa.pub" \
  --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/16 \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --endpoint-reconciler-type none --allow-privileged=true --profiling=false
wait_for kube-apiserver api_ready

# kwok renews node leases on a loaded machine late; the long node monitor
# grace period keeps the node lifecycle controller from marking nodes (and
# with them every pod) NotReady, which kwok's stages never undo.
start kube-controller-manager --kubeconfig "$state/admin.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$controller_manager_port" \
  --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --kube-api-qps 200 --kube-api-burst 400 --profiling=false \
  --node-monitor-grace-period 1h
start kube-scheduler --kubeconfig "$state/admin.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$scheduler_port" \
  --leader-elect=false --kube-api-qps 200 --kube-api-burst 400 --profiling=false
start_kwok() {
  start kwok --kubeconfig "$state/admin.kubeconfig" --config "$cache/kwok-stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/16 --node-ip 127.0.0.1 \
    --server-address "127.0.0.1:$kwok_port"
}
start_kwok

# The controller-manager is ready for pods once it has created the default
# namespace's ServiceAccount; the scheduler and kwok answer their health checks.
wait_for kube-controller-manager api_get /api/v1/namespaces/default/serviceaccounts/default
wait_for kube-scheduler curl -skf --max-time 2 "https://127.0.0.1:$scheduler_port/healthz"
# kwok v0.8.0 can die as it starts, with "fatal error: concurrent map
# writes" (its stages set up their CEL environments lazily from several
# workers at once: upstream). That crash, and only that, gets it started
# again, at most twice; the crashed log is kept as kwok.log.N.
for attempt in 1 2 3; do
  until curl -sf --max-time 2 "http://127.0.0.1:$kwok_port/healthz" >/dev/null 2>&1; do
    if [ -z "$(pid_of kwok)" ]; then
      break
    fi
    if ((SECONDS >= deadline)); then
      echo "cluster-up: timed out after ${ready_timeout}s waiting for kwok; logs in $state/logs/" >&2
      exit 1
    fi
    sleep 0.2
  done
  [ -n "$(pid_of kwok)" ] && break
  if [ "$attempt" -lt 3 ] && grep -q "concurrent map writes" "$state/logs/kwok.log"; then
    mv "$state/logs/kwok.log" "$state/logs/kwok.log.$attempt"
    echo "cluster-up: kwok crashed as it started (concurrent map writes, upstream); starting it again" >&2
    start_kwok
    continue
  fi
  echo "cluster-up: kwok exited; the end of $state/logs/kwok.log:" >&2
  tail -n 5 "$state/logs/kwok.log" | cut -c1-400 >&2
  exit 1
done

if [ "$node_enabled" = 1 ]; then
  node_up
fi

cat >"$state/cluster.env.tmp" <<EOF
MANAGED_BY=$managed_by
SERVER=$api
KUBECONFIG=$state/kubeconfig
ADMIN_KUBECONFIG=$state/admin.kubeconfig
LIMITED_KUBECONFIG=$state/limited.kubeconfig
CA_FILE=$pki/ca.crt
ETCD_PORT=$etcd_port
APISERVER_PORT=$apiserver_port
NODE=$([ "$node_enabled" = 1 ] && echo "$node_name")
NODE_IP=$([ "$node_enabled" = 1 ] && echo "$node_ip")
NODE_TAINT=$node_taint_key
CONTAINERD_SOCK=$([ "$node_enabled" = 1 ] && echo "$node_sock")
EOF
mv -f "$state/cluster.env.tmp" "$state/cluster.env"
echo "cluster-up: ready in ${SECONDS}s ($api); export KUBECONFIG=$state/kubeconfig"
