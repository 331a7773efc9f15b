// Package envtest starts a real API server for integration tests: etcd and kube-apiserver from the
// kit that e2e/kit/build-kube.sh builds (`make envtest-kit`), run by controller-runtime's envtest on
// loopback ports, and stops them when the test ends. A test gets a *rest.Config and a kubeconfig
// file with cluster-admin rights.
//
// When the kit is missing the test fails if DOCS_APPLIANCE_REQUIRE_KIT=1 (make test and CI set
// it) and is skipped otherwise, saying in both cases how to build it.
package envtest
