// Package node runs the Kubernetes cluster of the e2e tests: the scripts beside this file
// (up.sh, worker.sh, down.sh, pki.sh, kubelet.sh, coredns.yaml) bring etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy and CoreDNS up inside a
// network namespace, from the kit `make node-kit` builds, and take everything down again leaving
// no process, mount, namespace or cgroup behind. Options.Nodes adds further nodes (worker.sh), each
// a kubelet with containerd and kube-proxy in a namespace of its own, routed through the first;
// Worker.Stop and Start lose one and bring it back.
//
// Tests reach the API server from the host through a loopback forwarder: Node.Kubeconfig is a
// kubeconfig file for it. Main is the TestMain of e2e test packages: it builds the test images,
// brings one node up for the whole test binary, and takes it down at the end; MainCluster does
// the same for a cluster of several nodes.
package node
