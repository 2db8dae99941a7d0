# VS Code extension (extensions/vscode, docs/vscode.md).
#   make vscode-test   typecheck, bundle and run the extension's unit and
#                      integration tests (the latter against bin/mirrord-ls)
#   make vscode-lint   eslint (also run by `make lint`)
#   make vsix          package bin/mirrord-ls-vscode-<version>.vsix with the
#                      schema from `mirrord schema` and bin/mirrord-ls inside
# npm ci runs only when node_modules is missing or the lockfile changed
# (stamp file). The @vscode/test-electron smoke suite needs a VS Code and is
# not run here: `cd extensions/vscode && npm run test:electron`.
.PHONY: vscode-test vscode-lint vsix
VSCODE_DIR := extensions/vscode
VSCODE_STAMP := $(VSCODE_DIR)/node_modules/.mirrord-npm-ci.stamp
VSCODE_NPM := npm --prefix $(VSCODE_DIR) --loglevel=error --no-audit --no-fund --no-update-notifier
TEST_EXTRA += vscode-test

$(VSCODE_STAMP): $(VSCODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "vscode: npm is missing (make deps)" >&2; exit 1; }
	cd $(VSCODE_DIR) && npm ci --loglevel=error --no-audit --no-fund --no-update-notifier --no-progress >/dev/null
	@touch $@

# The integration tests list targets from the local control plane: it is
# started here (or reused) and stopped afterwards only if tests started it.
vscode-test: $(VSCODE_STAMP) build cluster-build images
	$(VSCODE_NPM) run --silent bundle
	MIRRORD_CLUSTER_MANAGED_BY=test bash scripts/cluster-up.sh
	MIRRORD_LS_BIN=$(CURDIR)/$(BIN)/mirrord-ls MIRRORD_TEST_KUBECONFIG=$(CURDIR)/.cache/cluster/state/admin.kubeconfig \
	  $(VSCODE_NPM) test; rc=$$?; bash scripts/cluster-down.sh --if-unused; exit $$rc

vscode-lint: $(VSCODE_STAMP)
	$(VSCODE_NPM) run --silent lint

lint: vscode-lint

vsix: $(VSCODE_STAMP) build
	MIRRORD_BIN=$(CURDIR)/$(BIN)/mirrord MIRRORD_LS_BIN=$(CURDIR)/$(BIN)/mirrord-ls VSIX_OUT=$(CURDIR)/$(BIN) \
		$(VSCODE_NPM) run --silent package
