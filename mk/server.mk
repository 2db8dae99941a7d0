# mirrord-ls, the language server (server/, cmd/mirrord-ls). Its editor
# tests run headless neovim and Vim + ALE (server/) and Emacs with eglot
# against extensions/emacs (installed by scripts/deps.sh); the
# benchmarks build cmd/mirrord-ls themselves. server/kubetargets tests the
# cluster features against the local control plane (TEST_DEPS has
# cluster-build, from mk/cluster.mk) through the cluster helper
# (`mirrord cluster-serve`, kube/clusterserve), which it takes from bin/.

RACE_PKGS += ./server/... ./kube/clusterserve/

.PHONY: test-server bench-server fuzz-server
test-server: export MIRRORD_TEST_BIN := $(CURDIR)/$(BIN)
test-server: build
	$(GO) test $(GOTEST_FLAGS) ./server/... ./kube/clusterserve/ ./cmd/mirrord-ls/ ./extensions/emacs/
	$(GO) test $(GOTEST_FLAGS) -race ./server/... ./kube/clusterserve/

# Start-up, didChange -> publishDiagnostics, completion (p50/p99) and the
# resident memory of the real process with ten configs open; warm
# listTargets through the cluster helper (bin/mirrord cluster-serve).
bench-server: export MIRRORD_TEST_BIN := $(CURDIR)/$(BIN)
bench-server: build
	$(GO) test -run '^$$' -bench . -benchtime 2s -count=1 ./server/
	$(GO) test -run '^$$' -bench 'ListTargets' -benchtime 2000x -count=1 ./server/kubetargets/

fuzz-server:
	for f in FuzzFraming FuzzParams; do $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./server/ || exit 1; done
	for f in FuzzStream FuzzDecode; do $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./server/wire/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./server/textdoc/
	$(GO) test -run '^$$' -fuzz '^FuzzFind$$' -fuzztime $(FUZZTIME) ./server/cursor/
	$(GO) test -run '^$$' -fuzz '^FuzzFromText$$' -fuzztime $(FUZZTIME) ./server/configref/
