# Air-gap bundle benchmark (airgap/README.md, "Speed and memory"): import of a
# 2 GiB synthetic bundle against `zstd -dc | tar -x` then `sha256sum`, in the
# same run, with the import's peak RSS; fails when the import is not 1.5x
# faster or peaks at 200 MiB or more. Then the per-stage throughput benchmarks.
AIRGAP_BENCH_SIZE ?= 2GiB
AIRGAP_BENCH_RUNS ?= 3
AIRGAP_BENCH_BIN  ?= $(or $(TMPDIR),/tmp)/docs-appliance-airgap-bench

BENCH_TARGETS += bench-airgap

.PHONY: bench-airgap
## bench-airgap: bundle import vs zstd|tar|sha256sum on 2 GiB, peak RSS, stage throughput
bench-airgap:
	@command -v zstd >/dev/null 2>&1 || { apt-get update && apt-get install -y zstd; }
	go build -o $(AIRGAP_BENCH_BIN) ./cmd/docs-appliance
	go run ./airgap/bench -size $(AIRGAP_BENCH_SIZE) -runs $(AIRGAP_BENCH_RUNS) -bin $(AIRGAP_BENCH_BIN) -check
	go test ./airgap/ -run '^$$' -bench . -benchtime 3x
	rm -f $(AIRGAP_BENCH_BIN)
