# The local cluster for tests and the demo (docs/cluster.md).
# `make cluster-build` builds etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl, CoreDNS and kwok from the Go
# module proxy into .cache/cluster/bin (cached: a no-op when the recorded
# versions match). `make cluster-up` starts the control plane, kwok and, as
# root, one real node (containerd + kubelet + kube-proxy + CoreDNS) with the
# images of `make images` loaded; `make cluster-load IMAGE=FILE` loads another
# image tarball into the node.
.PHONY: cluster-build cluster-up cluster-down cluster-load test-teardown

cluster-build:
	bash scripts/cluster-build.sh

cluster-up: cluster-build images
	bash scripts/cluster-up.sh

cluster-down:
	bash scripts/cluster-down.sh

cluster-load:
	bash scripts/cluster-load.sh $(IMAGE)

# `make cluster-down` leaves nothing of the node behind (e2e/teardown). It
# stops and starts the shared cluster, so `make test` runs it last, alone.
test-teardown: build cluster-build images
	MIRRORD_TEARDOWN_TEST=1 $(GO) test -count=1 -timeout 10m -run TestClusterDownLeavesNothing -v ./e2e/teardown/

# The scale benchmarks (10,000 pods, 1,000 deployments over 20 namespaces)
# are skipped by `make bench` unless MIRRORD_BENCH_SCALE=1; this runs them.
.PHONY: bench-scale
bench-scale: cluster-build
	MIRRORD_BENCH_SCALE=1 $(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./kube/catalog/
