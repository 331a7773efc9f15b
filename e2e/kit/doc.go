// Package kit owns the versions of the test Kubernetes the e2e harness builds from the Go module
// proxy (versions.env, the one source of truth shared with the build scripts and mk/e2e.mk), the
// cache folders the build scripts fill under $HOME/.cache/docs-appliance, and the rule for a
// missing kit: a test fails when DOCS_APPLIANCE_REQUIRE_KIT=1 (make test, CI) and skips otherwise,
// in both cases saying which make target builds it.
//
// The build scripts themselves live beside this file: build-kube.sh (envtest and node tiers),
// build-coredns.sh and build-flux.sh.
package kit
