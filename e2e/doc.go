// Package e2e holds the tests that run against a real one-node Kubernetes (build tag e2e, run by
// `make e2e`), and, in its subpackages, their harness: kit (versions and cache of what is built
// from the Go module proxy, and the build scripts), envtest (a real API server for integration
// tests), node (the one-node cluster), images (test images packed without a container engine).
//
// Every test file of this package carries `//go:build e2e`; TestMain brings one node up for them
// all (node.Main). A test calls node.Need(t) first (a missing kit fails or skips it there), then
// reaches the cluster through the package's `testNode`:
// testNode.Kubeconfig (a file) or testNode.Config (a *rest.Config).
package e2e
