# e2e.mk — the test Kubernetes: kits built once from the Go module proxy and cached under
# $(CACHE) by version (e2e/kit/versions.env), and the e2e tier. Included by the Makefile.
#
#   make envtest-kit   etcd, kube-apiserver, kubectl (for `make test`'s integration tests)
#   make node-kit      + kubelet, controller-manager, scheduler, kube-proxy, containerd, CoreDNS
#   make flux-images   source-, kustomize-, notification-controller images
#   make e2e           the tests tagged e2e, each package against a cluster of its own, one node or three (e2e/ha) (needs root)
#
# Cold, measured on 2 cores shared with other builds (load 6-17): node-kit 53 + 14 min (CoreDNS),
# flux-images ~50 min; in CPU time ~28 + 6 + 30 min, so ~35-40 min on 2 idle cores with .ci/run's
# shared compile cache. Warm: well under a second.

.PHONY: envtest-kit node-kit flux-images e2e

# What `make test` exports so the integration tests find the kit (DOCS_APPLIANCE_REQUIRE_KIT=1
# is set by the test target itself; it turns a missing kit into a failure).
ENVTEST_ENV := DOCS_APPLIANCE_CACHE=$(CACHE)
TEST_PREREQS += envtest-kit

E2E_TIMEOUT ?= 45m

envtest-kit:
	DOCS_APPLIANCE_CACHE=$(CACHE) bash e2e/kit/build-kube.sh envtest

node-kit:
	DOCS_APPLIANCE_CACHE=$(CACHE) bash e2e/kit/build-kube.sh node
	DOCS_APPLIANCE_CACHE=$(CACHE) bash e2e/kit/build-coredns.sh

flux-images:
	DOCS_APPLIANCE_CACHE=$(CACHE) bash e2e/kit/build-flux.sh

## e2e: tests against real clusters (one node, or three for e2e/ha), each node in a network namespace (build tag e2e; root)
# -p 2: two packages at a time, each on a node of its own (named after its package, node.Main):
# the long two (e2e/install, e2e/cnpg) mostly wait on controllers, so side by side they take
# about as long as e2e/install alone.
e2e: node-kit flux-images
	DOCS_APPLIANCE_REQUIRE_KIT=1 $(ENVTEST_ENV) $(GO) test -tags e2e -p 2 -count=1 -timeout $(E2E_TIMEOUT) ./e2e/...
