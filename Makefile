# mirrord-ls build. `make` builds every binary into bin/; `make test` installs
# what the tests need (idempotent, cached) and runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -X github.com/mirrord-ls/mirrord-ls/internal/version.Version=$(VERSION)
GOTEST_FLAGS ?= -count=1 -timeout 40m
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Area makefiles (mk/*.mk) add prerequisites of `make test` to TEST_DEPS,
# extra binaries to BINARIES, and their own targets.
TEST_DEPS :=
RACE_PKGS :=
TEST_EXTRA :=
BINARIES := $(BIN)/mirrord-ls $(BIN)/mirrord $(BIN)/mirrord-agent

.PHONY: all build demo test test-go lint lint-go bench fuzz deps clean
all: build

include $(wildcard mk/*.mk)

build: $(BINARIES)

$(BIN)/%: FORCE
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

FORCE:

# System packages and tools the tests need (idempotent).
deps:
	bash scripts/deps.sh

test: test-go $(TEST_EXTRA)
	$(MAKE) --no-print-directory test-teardown

# Tests use the binaries `build` just made (internal/testbin) instead of
# building their own.
test-go: export MIRRORD_TEST_BIN := $(CURDIR)/$(BIN)
test-go: export MIRRORD_AGENT_BIN := $(CURDIR)/$(BIN)/mirrord-agent
test-go: deps build $(TEST_DEPS) lint-go
	$(GO) test $(GOTEST_FLAGS) ./...
	$(if $(strip $(RACE_PKGS)),$(GO) test $(GOTEST_FLAGS) -race $(RACE_PKGS))

# gofmt, go vet and staticcheck over the Go code (part of `make test`);
# `make lint` adds the extension's eslint.
lint: lint-go

lint-go:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: build $(TEST_DEPS)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# Every fuzz target runs FUZZTIME (default 60s).
FUZZTIME ?= 60s
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)

demo: build cluster-build images
	bash scripts/demo.sh
