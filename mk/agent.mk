# mirrord-agent and its wire protocol (protocol/, agent/, cmd/mirrord-agent).
# The agent's end-to-end tests need root (network namespaces, iptables) and
# skip themselves otherwise; they build the agent binary themselves, or use
# $MIRRORD_AGENT_BIN.

RACE_PKGS += ./protocol/ ./agent/...

.PHONY: test-agent bench-agent
test-agent:
	$(GO) test $(GOTEST_FLAGS) ./protocol/ ./agent/...
	$(GO) test $(GOTEST_FLAGS) -race ./protocol/ ./agent/...

# Side-by-side numbers: the multiplexers, and a TCP connection direct /
# through socat / through the agent.
bench-agent:
	$(GO) test -run '^$$' -bench 'Mux|Relay' -benchtime 2s -count=1 ./protocol/ ./agent/
