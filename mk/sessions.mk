# Sessions: session.Start, `mirrord ext`, cluster agents (kube/agentpod),
# the intproxy handoff (session/handoff). docs/sessions.md explains them.
# The agentpod and session tests use the local control plane (cluster-build
# is a TEST_DEPS of mk/cluster.mk); the end-to-end tests (session/e2e,
# TestDialThroughPortForward) need root and skip themselves otherwise; they
# build mirrord, mirrord-agent and the layer themselves.
RACE_PKGS += ./kube/agentpod/

.PHONY: test-sessions bench-sessions
test-sessions: cluster-build
	$(GO) test $(GOTEST_FLAGS) -race ./session/... ./kube/agentpod/

# `mirrord ext` with a pre-started agent, process start to the final line
# (target <= 300 ms).
bench-sessions:
	$(GO) test -run '^$$' -bench ExtPrestartedAgent -benchtime 20x -count=1 ./session/e2e/
