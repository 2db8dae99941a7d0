# Local control plane for tests and the demo (docs/cluster.md).
# `make cluster-build` builds etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok from the Go module proxy into .cache/cluster/bin
# (cached: a no-op when the recorded versions match).
.PHONY: cluster-build cluster-up cluster-down
TEST_DEPS += cluster-build
RACE_PKGS += ./kube/catalog/...

cluster-build:
	bash scripts/cluster-build.sh

cluster-up: cluster-build
	bash scripts/cluster-up.sh

cluster-down:
	bash scripts/cluster-down.sh
