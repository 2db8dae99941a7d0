# mirrord port-forward (portforward/, cmd/mirrord/port_forward.go).
# Its end-to-end tests need root (network namespaces, iptables) and skip
# themselves otherwise; the self-healing tests use the local control plane
# (cluster-build is already a TEST_DEPS of mk/cluster.mk). socat is needed
# by the benchmark only (installed by scripts/deps.sh).
RACE_PKGS += ./portforward/...

.PHONY: test-portforward bench-portforward
test-portforward: cluster-build
	$(GO) test $(GOTEST_FLAGS) -race ./portforward/...

# -L throughput and round trip: direct vs socat (same hops) vs port-forward.
bench-portforward:
	$(GO) test -run '^$$' -bench Forward -benchtime 2s -count=1 ./portforward/
