# Sourced by cluster-up.sh and cluster-down.sh (after cluster-env.sh): the
# real node of the local cluster. node_up starts containerd, the kubelet,
# kube-proxy and CoreDNS on a bridge of their own; node_down removes every
# trace of them (processes, mounts, cgroups, links, iptables rules, sysctls).
# See docs/cluster.md; the facts behind each setting are in the project's
# reference notes on running a real node.
#
# Nothing leaves the machine: containerd's pulls go to a dead loopback proxy
# (no DNS look-up either), pods are routed only to the bridge and the host
# (FORWARD rules of our own chain reject the rest at once), nothing is
# masqueraded toward the host's uplink, and CoreDNS answers every name
# outside cluster.local itself (NXDOMAIN) instead of forwarding it.

node_dir=$node_state
node_chain=MIRRORD-NODE-FWD
node_cgroup_root=/mirrord-$node_name

# node_log MSG: a progress line.
node_log() { echo "cluster-node: $*"; }

# node_cmdline_pids PATTERN: pids whose command line contains PATTERN.
node_cmdline_pids() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF -- "$1" && echo "$pid"
  done
  return 0
}

# node_cgroup_dirs: the node's cgroup directories in every v1 hierarchy (and
# the unified one), deepest first.
node_cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$h${node_cgroup_root#/}" ] && find "$h${node_cgroup_root#/}" -depth -type d
  done
  return 0
}

node_write_config() {
  mkdir -p "$node_dir"/{containerd/root,containerd/state,runc,cni,cni-ipam,kubelet,kubelet-pki,pod-logs,images}
  cat >"$node_dir/containerd.toml" <<EOF
version = 2
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$node_sock"
[ttrpc]
  address = "$node_sock.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(node_image_ref pause)"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  enable_selinux = false
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$node_dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/cni"
    max_conf_num = 1
EOF
  cat >"$node_dir/cni/10-mirrord.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "mirrord-node",
  "plugins": [{
    "type": "bridge", "bridge": "$node_bridge",
    "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {
      "type": "host-local", "dataDir": "$node_dir/cni-ipam",
      "ranges": [[{"subnet": "$node_cidr", "rangeStart": "$node_net.10", "gateway": "$node_ip"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
EOF
  # The kubelet's idea of the host's resolv.conf: pods with dnsPolicy
  # Default get this, never the host's own resolver.
  printf 'nameserver %s\noptions ndots:5\n' "$node_ip" >"$node_dir/resolv.conf"
  cat >"$node_dir/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mirrord-local
  cluster: {server: "$api", certificate-authority: "$pki/ca.crt"}
contexts:
- name: node
  context: {cluster: mirrord-local, user: node}
users:
- name: node
  user: {client-certificate: "$pki/kubelet.crt", client-key: "$pki/kubelet.key"}
current-context: node
EOF
  chmod 600 "$node_dir/kubelet.kubeconfig"
  cat >"$node_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $node_cgroup_root
containerRuntimeEndpoint: unix://$node_sock
address: $node_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$node_ip]
resolvConf: $node_dir/resolv.conf
podLogsDir: $node_dir/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 87600h
makeIPTablesUtilChains: false
failSwapOn: false
serializeImagePulls: false
localStorageCapacityIsolation: false
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
registerWithTaints:
- {key: $node_taint_key, value: "true", effect: NoSchedule}
EOF
  cat >"$node_dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $node_name
bindAddress: $node_ip
clusterCIDR: $node_cidr
healthzBindAddress: 127.0.0.1:$kube_proxy_healthz_port
metricsBindAddress: 127.0.0.1:$kube_proxy_metrics_port
clientConnection: {kubeconfig: "$state/admin.kubeconfig"}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {masqueradeAll: false, syncPeriod: 30s, minSyncPeriod: 0s}
nodePortAddresses: ["$node_cidr"]
EOF
  cat >"$node_dir/Corefile" <<EOF
.:53 {
    bind $node_ip
    errors
    health 127.0.0.1:$coredns_health_port
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $state/admin.kubeconfig mirrord-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    template ANY ANY {
        rcode NXDOMAIN
    }
    cache 5
}
EOF
}

# node_image_ref NAME: the reference of a locally built image (the tarball's
# .ref file written by `make images`).
node_image_ref() { cat "$images_dir/$1.ref"; }

# node_network_up: the bridge, forwarding toward it only, and the rule
# chain that rejects everything pods send beyond the bridge and the host.
node_network_up() {
  if ! ip link show "$node_bridge" >/dev/null 2>&1; then
    ip link add "$node_bridge" type bridge
  fi
  ip addr replace "$node_ip/24" dev "$node_bridge"
  ip link set "$node_bridge" up
  [ -f "$node_dir/sysctl.saved" ] || {
    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
    echo "bridge_nf=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 0)"
  } >"$node_dir/sysctl.saved"
  node_fence
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  echo 1 >/proc/sys/net/ipv4/ip_forward
}

# node_fence: (re)inserts our FORWARD chain at the top: bridge to bridge is
# accepted, anything else from or to the pods is rejected at once.
node_fence() {
  iptables -w -N "$node_chain" 2>/dev/null || iptables -w -F "$node_chain"
  iptables -w -A "$node_chain" -i "$node_bridge" -o "$node_bridge" -j ACCEPT
  iptables -w -A "$node_chain" -i "$node_bridge" -p tcp -j REJECT --reject-with tcp-reset
  iptables -w -A "$node_chain" -i "$node_bridge" -j REJECT --reject-with icmp-admin-prohibited
  iptables -w -A "$node_chain" -o "$node_bridge" -j REJECT --reject-with icmp-admin-prohibited
  iptables -w -A "$node_chain" -s "$node_cidr" -j REJECT --reject-with icmp-admin-prohibited
  while iptables -w -D FORWARD -j "$node_chain" 2>/dev/null; do :; done
  iptables -w -I FORWARD 1 -j "$node_chain"
}

# node_import_images: loads every image tarball of images_dir into the
# node's containerd once per tarball version (size and mtime: cluster-up
# runs this at every test package's start, so nothing is hashed here;
# `make images` rewrites a tarball only when its image changed).
node_import_images() {
  local tar sum stamp
  for tar in "$images_dir"/*.tar; do
    [ -f "$tar" ] || continue
    sum=$(stat -c '%s-%Y' "$tar")
    stamp=$node_dir/images/$(basename "$tar").loaded
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && continue
    ctr -a "$node_sock" -n k8s.io images import --all-platforms "$tar" >/dev/null
    echo "$sum" >"$stamp"
    node_log "image loaded: $(cat "${tar%.tar}.ref" 2>/dev/null || basename "$tar")"
  done
}

node_ready() {
  api_get "/api/v1/nodes/$node_name" | tr -d ' \n' |
    grep -q '"type":"Ready","status":"True"'
}

node_up() {
  local t0=$SECONDS
  for b in ctr runc iptables conntrack; do
    command -v "$b" >/dev/null || {
      echo "cluster-up: $b is missing; run 'make deps'" >&2
      exit 2
    }
  done
  [ -f "$images_dir/pause.tar" ] && [ -f "$images_dir/pause.ref" ] || {
    echo "cluster-up: $images_dir/pause.{tar,ref} is missing; run 'make images'" >&2
    exit 2
  }
  node_write_config
  node_network_up
  # The kubelet's cgroupRoot must exist in every hierarchy.
  local h
  for h in /sys/fs/cgroup/*/; do
    mkdir -p "$h${node_cgroup_root#/}" 2>/dev/null || true
  done
  # Never pull: every pull goes to a dead proxy on loopback (no DNS look-up).
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    start containerd --config "$node_dir/containerd.toml"
  wait_for containerd ctr -a "$node_sock" version
  node_import_images
  start kubelet --config "$node_dir/kubelet.yaml" --kubeconfig "$node_dir/kubelet.kubeconfig" \
    --hostname-override "$node_name" --node-ip "$node_ip" --root-dir "$node_dir/kubelet" \
    --cert-dir "$node_dir/kubelet-pki" --v 1
  start kube-proxy --config "$node_dir/kube-proxy.yaml" --v 1
  start coredns -conf "$node_dir/Corefile" -dns.port 53
  wait_for kubelet node_ready
  wait_for kube-proxy curl -sf --max-time 2 "http://127.0.0.1:$kube_proxy_healthz_port/healthz"
  wait_for coredns curl -sf --max-time 2 "http://127.0.0.1:$coredns_health_port/health"
  # kube-proxy inserts its own FORWARD jumps at the top: ours goes first.
  node_fence
  node_log "node $node_name ready in $((SECONDS - t0))s ($node_ip, pods $node_cidr)"
}

# node_down: stops the node and removes everything it left: container
# processes, shims, mounts, cgroups, links, iptables rules, sysctls.
node_down() {
  local pid pids i
  stop_component coredns
  stop_component kube-proxy
  if [ -x "$bin/kube-proxy" ]; then
    "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  stop_component kubelet
  # Container processes, then what is left of containerd and its shims.
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(node_cgroup_dirs | while read -r d; do cat "$d/cgroup.procs" 2>/dev/null; done | sort -u)
    [ -z "$pids" ] && break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  stop_component containerd
  for pid in $(node_cmdline_pids "-address $node_sock"); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Mounts under the node's directory (netns files, the kubelet's own bind
  # mount, overlay rootfs, volumes), deepest first.
  if [ -d "$node_dir" ]; then
    for i in 1 2 3; do
      local mounts
      mounts=$(awk -v d="$node_dir/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) { print $5 }' /proc/self/mountinfo |
        awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
      [ -z "$mounts" ] && break
      while read -r m; do
        [ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
      done <<<"$mounts"
    done
  fi
  for i in 1 2 3 4 5; do
    local left=0 d
    while read -r d; do
      [ -n "$d" ] && { rmdir "$d" 2>/dev/null || left=1; }
    done < <(node_cgroup_dirs)
    [ $left = 0 ] && break
    sleep 0.2
  done
  if ip link show "$node_bridge" >/dev/null 2>&1; then
    for i in $(ip -o link show master "$node_bridge" | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
      ip link del "$i" 2>/dev/null || true
    done
    ip link del "$node_bridge" 2>/dev/null || true
  fi
  while iptables -w -D FORWARD -j "$node_chain" 2>/dev/null; do :; done
  iptables -w -F "$node_chain" 2>/dev/null || true
  iptables -w -X "$node_chain" 2>/dev/null || true
  if [ -f "$node_dir/sysctl.saved" ]; then
    local ip_forward bridge_nf
    ip_forward=$(sed -n 's/^ip_forward=//p' "$node_dir/sysctl.saved")
    bridge_nf=$(sed -n 's/^bridge_nf=//p' "$node_dir/sysctl.saved")
    echo "${ip_forward:-0}" >/proc/sys/net/ipv4/ip_forward
    echo "${bridge_nf:-0}" >/proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
    rm -f "$node_dir/sysctl.saved"
  fi
  rm -rf "$node_dir/cni-ipam" "$node_dir/containerd/state" "$node_dir/runc"
  rmdir /run/containerd/s 2>/dev/null || true
}
