# validate.mk — the benchmark of `docs-appliance validate` (installer/validate/doc.go, "Speed"):
# the rendered example repository validated whole (every layer built, every object checked,
# every Secret decrypted); the budget is 2 s. Needs the upstream CRDs (CRDS_DIR, `make crds`).
.PHONY: bench-validate
BENCH_TARGETS += bench-validate
bench-validate:
	$(GO) test -run '^$$' -bench 'BenchmarkValidate' -benchmem -count 3 ./installer/validate/
