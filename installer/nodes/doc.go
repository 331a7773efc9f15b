// Package nodes is the appliance's view of the cluster's servers and agents, as k3s labels them:
// which nodes are servers (node-role.kubernetes.io/control-plane) and etcd members
// (node-role.kubernetes.io/etcd), whether embedded etcd keeps quorum and fault tolerance with
// the members that are Ready, the join tokens k3s accepts for agents (kubeadm-style bootstrap
// token Secrets, as `k3s token create` writes them), and removing a node: cordon, drain by
// eviction (PodDisruptionBudgets hold), the host's reset by a Job there (Leave, LeaveJob), etcd
// member removal through k3s's own annotation, then the Node object. Rollout takes every node to
// a new k3s one at a time (mark, cordon, drain, swap, Ready on the new version, uncordon); the
// nodes other than this host are swapped by a Job (SwapJob) whose image (BuildSwapImage) carries
// the new k3s and docs-appliance. Both Jobs are host Jobs (hostjob.go): pinned to their node,
// privileged with the host's /, their image of static programs pulled through k3s's embedded
// registry mirror.
//
// Apart from writing those images' archives, everything here reads or writes Kubernetes objects,
// so it is tested against a real API server (envtest); k3s's controllers, the kubelet and the
// Job controller, which do not run there, are played by the tests.
package nodes
