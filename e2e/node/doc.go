// Package node runs the one-node Kubernetes cluster of the e2e tests: the scripts beside this file
// (up.sh, down.sh, pki.sh, coredns.yaml) bring etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd, kubelet, kube-proxy and CoreDNS up inside a network namespace, from
// the kit `make node-kit` builds, and take everything down again leaving no process, mount,
// namespace or cgroup behind.
//
// Tests reach the API server from the host through a loopback forwarder: Node.Kubeconfig is a
// kubeconfig file for it. Main is the TestMain of e2e test packages: it builds the test images,
// brings one node up for the whole test binary, and takes it down at the end.
package node
