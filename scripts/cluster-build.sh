#!/usr/bin/env bash
# Builds the local cluster (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl, CoreDNS, kwok) from the Go
# module proxy into .cache/cluster/bin/.
#
# Idempotent and cached: every component has a stamp recording what it was
# built from (its wrapper module's go.mod/go.sum, the build flags and the Go
# version). A component whose binaries exist and whose stamp matches is not
# rebuilt. Concurrent runs serialise on a lock. See docs/cluster.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MIRRORD_CLUSTER_CACHE:-$root/.cache/cluster}
bin=$cache/bin
tools=$root/tools/cluster

k8s_version=v1.36.3
k8s_minor=36

mkdir -p "$bin"
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  echo "cluster-build: another build is running; waiting for it"
  flock 9
fi

go_version=$(go env GOVERSION)

# stamp_of COMPONENT FLAGS...: what a component's binaries are built from.
stamp_of() {
  local component=$1
  shift
  {
    echo "go=$go_version"
    echo "flags=$*"
    cat "$tools/$component/go.mod" "$tools/$component/go.sum"
    find "$tools/$component" -maxdepth 1 -name '*.go' -print0 | sort -z | xargs -0r cat
  } | sha256sum | cut -d' ' -f1
}

# up_to_date COMPONENT STAMP BINARIES...: true when nothing needs building.
up_to_date() {
  local component=$1 stamp=$2
  shift 2
  [ -f "$bin/.$component.stamp" ] && [ "$(cat "$bin/.$component.stamp")" = "$stamp" ] || return 1
  local b
  for b in "$@"; do
    [ -x "$bin/$b" ] || return 1
  done
}

# build COMPONENT LDFLAGS NAME=PACKAGE...: builds into a temporary directory
# and moves the binaries in place only when all of them built.
build() {
  local component=$1 ldflags=$2
  shift 2
  local names=() pkgs=() pair
  for pair in "$@"; do
    names+=("${pair%%=*}")
    pkgs+=("${pair#*=}")
  done
  local stamp
  stamp=$(stamp_of "$component" "$ldflags")
  if up_to_date "$component" "$stamp" "${names[@]}"; then
    echo "cluster-build: $component up to date (${names[*]})"
    return
  fi
  echo "cluster-build: building $component (${names[*]}); a cold build takes minutes"
  local tmp start
  tmp=$(mktemp -d "$cache/build.XXXXXX")
  start=$SECONDS
  local i
  for i in "${!names[@]}"; do
    (cd "$tools/$component" &&
      go build -trimpath -ldflags "$ldflags" -o "$tmp/${names[$i]}" "${pkgs[$i]}") || {
      rm -rf "$tmp"
      echo "cluster-build: building ${names[$i]} failed" >&2
      return 1
    }
  done
  for i in "${names[@]}"; do
    mv -f "$tmp/$i" "$bin/$i"
  done
  rm -rf "$tmp"
  echo "$stamp" >"$bin/.$component.stamp"
  echo "cluster-build: $component built in $((SECONDS - start))s"
}

version_flags() {
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$pkg" "$k8s_version" "$pkg" "$pkg" "$k8s_minor" "$pkg"
  done
}

build etcd "-s -w" etcd=go.etcd.io/etcd/server/v3
build kubernetes "-s -w $(version_flags)" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kubelet=k8s.io/kubernetes/cmd/kubelet \
  kube-proxy=k8s.io/kubernetes/cmd/kube-proxy \
  kubectl=k8s.io/kubernetes/cmd/kubectl
build coredns "-s -w" coredns=.
build kwok "-s -w" kwok=sigs.k8s.io/kwok/cmd/kwok

# kwok has no stages built in; use the ones kwokctl applies by default, from
# the same module version the binary was built from.
kwok_dir=$(cd "$tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
stages=$cache/kwok-stages.yaml
{
  first=1
  for f in node/fast/node-initialize.yaml \
    node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ $first = 1 ] || echo '---'
    first=0
    cat "$kwok_dir/kustomize/stage/$f"
  done
} >"$stages.tmp"
mv -f "$stages.tmp" "$stages"
echo "cluster-build: ok ($bin)"
