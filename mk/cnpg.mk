# cnpg.mk — a real CloudNativePG for the e2e node: the operator, a PostgreSQL image from Debian's
# packages and the barman-cloud plugin with its sidecar, built once without Docker and cached under
# $(CACHE)/cnpg-<versions> (e2e/kit/build-cnpg.sh, versions in e2e/kit/versions.env).
#
#   make cnpg-kit   images (cloudnative-pg, postgresql, plugin-barman-cloud, -sidecar) and upstream's
#                   install manifests; used by e2e/cnpg (and make e2e)
#
# Cold: 27 min on 2 cores shared with five other builds, ~10 CPU-minutes (so ~6-8 min on 2 idle
# cores; build-cnpg.sh's header has the parts). Warm: instant.

.PHONY: cnpg-kit

cnpg-kit:
	DOCS_APPLIANCE_CACHE=$(CACHE) bash e2e/kit/build-cnpg.sh

# e2e/cnpg runs the operator from this kit and versitygw (wizard-kit) as its S3 store.
e2e: cnpg-kit wizard-kit

# installer/backup's tests read CloudNativePG's CRDs from this kit.
TEST_PREREQS += cnpg-kit
