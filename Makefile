# mirrord-ls build.
#
#   make            build every binary into bin/ (mirrord-ls, mirrord,
#                   mirrord-agent, libmirrord_layer.so)
#   make test       install what the tests need (idempotent, cached) and run
#                   every test, in this order:
#                     1. deps          system packages (scripts/deps.sh)
#                     2. build         the binaries the tests run (bin/)
#                     3. cluster-build the local cluster's programs (mk/cluster.mk)
#                     4. images        pause, busybox, our agent (mk/images.mk)
#                     5. lint-go       gofmt, go vet, staticcheck, go mod tidy
#                     6. go test ./... every Go package, the real node included
#                     7. go test -race the concurrent packages (RACE_PKGS)
#                     8. vscode-test, vscode-real-test   (mk/vscode.mk)
#                     9. intellij-test                    (mk/intellij.mk)
#                    10. test-teardown `make cluster-down` leaves nothing (mk/cluster.mk)
#   make demo       build, start the local cluster and run `mirrord exec`
#                   against a real pod (scripts/demo.sh)
#   make bench      every benchmark; BENCH=regex PKGS=./dir/ narrows it
#   make fuzz       every fuzz target for FUZZTIME each, the protocol's
#                   handshake/framing/header targets for FUZZTIME_WIRE
#                   (scripts/fuzz.sh)
#
# Fragments under mk/ hold the areas with their own tool chains: the local
# cluster, container images, the VS Code extension, the IntelliJ core.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -X github.com/mirrord-ls/mirrord-ls/internal/version.Version=$(VERSION)
GOTEST_FLAGS ?= -count=1 -timeout 40m
export PATH := $(CURDIR)/$(BIN):$(PATH)

GO_BINARIES := $(BIN)/mirrord-ls $(BIN)/mirrord $(BIN)/mirrord-agent
LAYER := $(BIN)/libmirrord_layer.so
# Packages whose code runs concurrently: run again under the race detector.
RACE_PKGS := ./protocol/ ./agent/... ./internal/... ./schema/... ./server/... ./session/... \
	./kube/catalog/... ./kube/listing/... ./kube/clusterserve/ ./kube/agentpod/ \
	./layer/intproxy/... ./layer/supervisor/ ./portforward/...

.PHONY: all build demo test test-go lint lint-go bench fuzz golden deps clean FORCE
all: build

build: $(GO_BINARIES) $(LAYER)

$(GO_BINARIES): $(BIN)/%: FORCE
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

# The C LD_PRELOAD layer (layer/preload, docs/layer.md).
LAYER_SRC := $(wildcard layer/preload/*.c) layer/preload/layer.h
LAYER_CFLAGS := -O2 -fPIC -Wall -Wextra -Werror -fvisibility=hidden -std=gnu11 -pthread \
	-fno-delete-null-pointer-checks -Wno-nonnull-compare
LAYER_LDFLAGS := -shared -Wl,-z,now -Wl,-z,relro -Wl,--no-undefined
$(LAYER): $(LAYER_SRC)
	@mkdir -p $(BIN)
	$(CC) $(LAYER_CFLAGS) $(LAYER_LDFLAGS) -o $@ $(filter %.c,$^) -ldl

deps:
	bash scripts/deps.sh

# Delve, for the supervisor's debugger test (layer/supervisor), from the Go
# module proxy; built once into .cache/tools.
DLV := .cache/tools/dlv
DLV_VERSION := v1.27.2
$(DLV):
	GOBIN=$(CURDIR)/.cache/tools GOFLAGS=-mod=mod $(GO) install github.com/go-delve/delve/cmd/dlv@$(DLV_VERSION)

test: test-go vscode-test vscode-real-test intellij-test
	$(MAKE) --no-print-directory test-teardown

# Tests use the binaries `build` just made (internal/testbin) instead of
# building their own.
test-go: export MIRRORD_TEST_BIN := $(CURDIR)/$(BIN)
test-go: export MIRRORD_AGENT_BIN := $(CURDIR)/$(BIN)/mirrord-agent
test-go: export MIRRORD_TEST_DLV := $(CURDIR)/$(DLV)
test-go: deps build cluster-build images lint-go $(DLV)
	$(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test $(GOTEST_FLAGS) -race $(RACE_PKGS)

lint: lint-go vscode-lint

lint-go:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }

# Benchmarks print side-by-side numbers (docs name the anchors). The scale
# benchmarks of kube/catalog need MIRRORD_BENCH_SCALE=1.
BENCH ?= .
PKGS ?= ./...
BENCHTIME ?= 1s
bench: export MIRRORD_TEST_BIN := $(CURDIR)/$(BIN)
bench: build cluster-build images
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -count=1 -timeout 60m $(PKGS)

FUZZTIME ?= 60s
# The agent's unauthenticated surface (handshake, framing, stream headers).
FUZZTIME_WIRE ?= 5m
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME) $(FUZZTIME_WIRE)

# Rewrite the golden files of the invalid-config corpus
# (testdata/configs/invalid/*.golden.json); review the diff by eye.
golden:
	$(GO) test ./schema/ -run TestInvalidCorpus -update

clean:
	rm -rf $(BIN)

demo: build cluster-build images
	bash scripts/demo.sh

FORCE:

include mk/cluster.mk mk/images.mk mk/vscode.mk mk/intellij.mk
