# VS Code extension (extensions/vscode, docs/vscode.md).
#   make vscode-test   typecheck, bundle and run the extension's unit and
#                      integration tests (the latter against bin/mirrord-ls)
#   make vscode-lint   eslint (also run by `make lint`)
#   make vsix          package bin/mirrord-ls-vscode-<version>.vsix with the
#                      schema from `mirrord schema` and bin/mirrord-ls inside
#   make vscode-real-test  the extension in a real VS Code: code-server (npm,
#                      cached by scripts/code-server-install.sh), Debian's
#                      chromium and playwright-core, the .vsix of `make vsix`,
#                      launches against real pods of the local cluster
# npm ci runs only when node_modules is missing or the lockfile changed
# (stamp file). The @vscode/test-electron smoke suite needs a VS Code and is
# not run here: `cd extensions/vscode && npm run test:electron`.
.PHONY: vscode-test vscode-lint vsix vscode-real-test
VSCODE_DIR := extensions/vscode
VSCODE_STAMP := $(VSCODE_DIR)/node_modules/.mirrord-npm-ci.stamp
VSCODE_NPM := npm --prefix $(VSCODE_DIR) --loglevel=error --no-audit --no-fund --no-update-notifier

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


vsix: $(VSCODE_STAMP) build
	MIRRORD_BIN=$(CURDIR)/$(BIN)/mirrord MIRRORD_LS_BIN=$(CURDIR)/$(BIN)/mirrord-ls VSIX_OUT=$(CURDIR)/$(BIN) \
		$(VSCODE_NPM) run --silent package

# The real-editor suite (docs/vscode.md). code-server is installed once per
# version under .cache/; the cluster is started (or reused) and stopped
# afterwards only if this target started it. Screenshots, the mirrord log
# and the numbers go to .cache/vscode-real/artifacts/.
vscode-real-test: $(VSCODE_STAMP) vsix cluster-build images
	@command -v chromium >/dev/null || { echo "vscode-real-test: chromium is missing (make deps)" >&2; exit 1; }
	cs=$$(bash scripts/code-server-install.sh) || exit 1; \
	MIRRORD_CLUSTER_MANAGED_BY=test bash scripts/cluster-up.sh || exit 1; \
	CODE_SERVER_DIR=$$cs MIRRORD_VSIX=$(CURDIR)/$(BIN)/mirrord-ls-vscode-$$(node -p 'require("./$(VSCODE_DIR)/package.json").version').vsix \
	  $(VSCODE_NPM) run test:real; rc=$$?; bash scripts/cluster-down.sh --if-unused; exit $$rc
