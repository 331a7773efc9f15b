# docs-appliance — build, test and release tasks. Every target works offline
# except `charts`, `lock` and `crds`, which need a connected machine.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Release signing (airgap/README.md, "Release signing"): a release build carries the public half of
# the release's bundle-signing key, and install --bundle, airgap verify and airgap import check every
# bundle against it by default:
#   make build BUNDLE_PUBKEY_FILE=release-bundle-signing.pub    # the .pub of `docs-appliance airgap keygen`
# (or BUNDLE_PUBKEY=<the base64 line of that file>). Only the text between the PUBLIC KEY lines is
# taken, so a private key passed by mistake is refused here instead of being built into the binary.
# Without either, the binary is a development build with no release key: it refuses bundles unless
# given --key/--bundle-key FILE or --insecure-skip-bundle-verify.
BUNDLE_PUBKEY_FILE ?=
BUNDLE_PUBKEY ?= $(if $(BUNDLE_PUBKEY_FILE),$(shell awk '/^-----END PUBLIC KEY-----/{p=0} p; /^-----BEGIN PUBLIC KEY-----/{p=1}' '$(BUNDLE_PUBKEY_FILE)' | tr -d ' \r\n'))
ifneq ($(BUNDLE_PUBKEY_FILE),)
ifeq ($(BUNDLE_PUBKEY),)
$(error BUNDLE_PUBKEY_FILE=$(BUNDLE_PUBKEY_FILE) holds no PEM "PUBLIC KEY": pass the .pub file of `docs-appliance airgap keygen`, never the private key)
endif
endif
LDFLAGS := -s -w -X github.com/suitenumerique/docs-appliance/installer/release.Version=$(VERSION) \
	-X github.com/suitenumerique/docs-appliance/installer/release.Commit=$(COMMIT) \
	-X github.com/suitenumerique/docs-appliance/installer/release.BundlePublicKey=$(BUNDLE_PUBKEY)
CACHE ?= $(HOME)/.cache/docs-appliance
SOPS_VERSION := v3.13.3
SOPS_BIN := $(CACHE)/sops-$(SOPS_VERSION)/sops
# The upstream CRDs of the pinned versions, for schema checks (never committed): the shared copy
# beside the checkout when there is one, else what `make crds` fetched into the cache.
CRDS_DIR ?= $(firstword $(wildcard $(abspath ../shared/crds) /work/shared/crds) $(CACHE)/crds)
export CRDS_DIR

# Fragments add targets and prerequisites: mk/e2e.mk (test cluster kit),
# mk/airgap.mk (bundle benchmark), ...
TEST_PREREQS :=
BENCH_TARGETS :=
-include mk/*.mk

.PHONY: build test unit lint bench bench-render charts lock crds sops-cli clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/docs-appliance ./cmd/docs-appliance

## test: lint, unit tests and integration tests against a real API server (envtest kit built and cached on first run)
test: lint sops-cli $(TEST_PREREQS)
	DOCS_APPLIANCE_REQUIRE_KIT=1 DOCS_APPLIANCE_SOPS=$(SOPS_BIN) $(ENVTEST_ENV) $(GO) test ./...

## unit: the fast tests only; integration tests skip (with a message) when their kit is absent
unit:
	$(GO) test ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: render speed and memory, plus every fragment's benchmark
bench: bench-render $(BENCH_TARGETS)

bench-render:
	$(GO) test -run '^$$' -bench 'BenchmarkRender' -benchmem -count 3 ./installer/render/

## sops-cli: the real sops CLI, built from the Go module proxy, for interop tests
sops-cli: $(SOPS_BIN)
$(SOPS_BIN):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install -trimpath -ldflags '-s -w' github.com/getsops/sops/v3/cmd/sops@$(SOPS_VERSION)

## charts: fetch every chart of the embedded trains and verify it against its sha256 (connected machine)
charts:
	$(GO) run ./cmd/docs-appliance trains fetch-charts --out bundles/charts

## lock: look up every digest of a train and write it into the train file (connected machine)
TRAIN ?= 2026.11
## then fetches the locked charts and runs the release gate on them (check-release, mk/realcharts.mk)
lock:
	$(GO) run ./cmd/docs-appliance trains lock bundles/trains/$(TRAIN).yaml
	$(MAKE) check-release GATE_TRAIN=$(TRAIN)

## crds: the upstream CRDs of the pinned versions, for the schema tests (connected machine);
## then run the tests with CRDS_DIR=$(CACHE)/crds
crds:
	CRDS_OUT=$(CACHE)/crds bash e2e/kit/fetch-crds.sh

clean:
	rm -rf bin docs-appliance-rendered
