# Local control plane for tests and the demo (docs/cluster.md).
# `make cluster-build` builds etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok from the Go module proxy into .cache/cluster/bin
# (cached: a no-op when the recorded versions match).
.PHONY: cluster-build cluster-up cluster-down
TEST_DEPS += cluster-build
RACE_PKGS += ./kube/catalog/... ./kube/listing/...

cluster-build:
	bash scripts/cluster-build.sh

cluster-up: cluster-build
	bash scripts/cluster-up.sh

cluster-down:
	bash scripts/cluster-down.sh

# The scale benchmarks (10,000 pods, 1,000 deployments over 20 namespaces)
# are skipped by `make bench` unless MIRRORD_BENCH_SCALE=1; this runs them.
.PHONY: bench-scale
bench-scale: cluster-build
	MIRRORD_BENCH_SCALE=1 $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./kube/catalog/
