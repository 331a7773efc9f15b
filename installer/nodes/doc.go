// Package nodes is the appliance's view of the cluster's servers and agents, as k3s labels them:
// which nodes are servers (node-role.kubernetes.io/control-plane) and etcd members
// (node-role.kubernetes.io/etcd), whether embedded etcd keeps quorum and fault tolerance with
// the members that are Ready, the join tokens k3s accepts for agents (kubeadm-style bootstrap
// token Secrets, as `k3s token create` writes them), and removing a node: cordon, drain by
// eviction (PodDisruptionBudgets hold), etcd member removal through k3s's own annotation, then
// the Node object.
//
// Everything here reads or writes Kubernetes objects only, so it is tested against a real API
// server (envtest); k3s's controllers, which cannot run there, are played by the tests.
package nodes
