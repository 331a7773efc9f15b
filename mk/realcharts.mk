# realcharts.mk — the release gate on the real charts (package installer/render/realcharts).
#
#   make check-real-charts CHARTS=DIR   every profile × TLS mode × embedded/external × air-gapped render of
#                                       the train, from the charts in DIR (<name>-<version>.tgz), dry-run on
#                                       the envtest API server, secrets through the real sops CLI, references,
#                                       image pins and chart/image consistency; exits 1 on any rejection.
#
# DIR is what `make charts` fills (bundles/charts, on a connected machine after `make lock`) or an
# air-gap bundle's charts/ folder. Without it the gate fails and says how to get them. Not part of
# `make test`: the real charts are never in the repository (its tests run it on charts they make).
CHARTS ?=
GATE_TRAIN ?= $(TRAIN)
GATE_ONLY ?=

.PHONY: check-real-charts
## check-real-charts: the release gate on the real charts in CHARTS=DIR (not part of make test)
check-real-charts: sops-cli
	@if [ -z "$(CHARTS)" ]; then \
	  echo "check-real-charts: give CHARTS=DIR, a folder of the train's <name>-<version>.tgz:"; \
	  echo "  on a connected machine: make lock TRAIN=$(GATE_TRAIN) && make charts && make check-real-charts CHARTS=bundles/charts"; \
	  echo "  or an air-gap bundle's charts/ folder"; exit 2; fi
	$(MAKE) envtest-kit
	DOCS_APPLIANCE_CACHE=$(CACHE) $(GO) run ./cmd/check-real-charts -charts '$(CHARTS)' -train '$(GATE_TRAIN)' \
		-sops '$(SOPS_BIN)' $(if $(GATE_ONLY),-only '$(GATE_ONLY)')

.PHONY: check-release
## check-release: what a release build runs after `make lock` (connected machine): fetch and verify the
## charts into bundles/charts, then the gate on them
check-release: charts
	$(MAKE) check-real-charts CHARTS=bundles/charts
