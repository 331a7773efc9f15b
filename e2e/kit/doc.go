// Package kit owns the versions of the test Kubernetes the e2e harness builds from the Go module
// proxy (versions.env, the one source of truth shared with the build scripts and mk/e2e.mk), the
// cache folders the build scripts fill under $HOME/.cache/docs-appliance, and the one rule for a
// real part a test needs and does not find (a kit binary, git, nginx, openssl, root): Unavailable,
// a failure when DOCS_APPLIANCE_REQUIRE_KIT=1 (make test, make e2e, CI) and a skip otherwise, in
// both cases saying how to get it. Need, Program, File and Root call it for a part that is absent
// and fail the test for one that is there but broken.
//
// The build scripts themselves live beside this file: build-kube.sh (envtest and node tiers),
// build-coredns.sh and build-flux.sh.
package kit
