// Package k3s puts a pinned k3s on the host the way a careful operator would, and keeps it
// there: the binary from the release train or an imported bundle (sha256 verified), its
// config.yaml and registries.yaml (nothing pulled from the internet when air-gapped), the airgap
// image archives and the train's images in agent/images, a systemd unit and its env file; it
// starts or restarts k3s only when something it runs with changed, waits for the node and the
// core pods, and keeps a kubeconfig where the CLI finds it without KUBECONFIG.
//
// A further host joins the same way (Options.Join): a server with the first's settings plus
// server and token-file, or an agent with k3s-agent.service and agent flags only; the join
// token lives in TokenPath (0600) and nowhere else. The first server moves from SQLite to
// embedded etcd by a restart with cluster-init, and stays there (DatastoreOf); servers on etcd
// schedule snapshots and copy them to the backup target through a kube-system Secret
// (EtcdS3Secret), so the target's keys are never in config.yaml.
//
// Provision runs an ordered list of steps; each decides from facts on the host whether it still
// has work, so a killed run, run again, finishes the job. What k3s was last started with is
// recorded (AppliedPath), so a restart owed by a killed run is not forgotten.
//
// Swap is the other side of an upgrade across several nodes: run in a pod on a node with the
// host's / mounted, it puts the new binary in place of an appliance-installed k3s and has the
// host's systemd restart it (KillMode=process keeps the node's containers running). Leave is
// the other side of `node remove`: from a pod on the node leaving, it hands the host's own
// `docs-appliance reset` to the host's systemd (a transient unit a few seconds later), since the
// reset stops every pod, the one asking included.
//
// k3s itself cannot run where the project is built and tested: tests run every step on real
// files under a temporary root, with host.Recorder standing in for systemctl and client-go's
// fake clientset (or an API server) standing in for the cluster k3s would start.
package k3s
