// Package k3s puts a pinned k3s on the host the way a careful operator would, and keeps it
// there: the binary from the release train or an imported bundle (sha256 verified), its
// config.yaml and registries.yaml (nothing pulled from the internet when air-gapped), the airgap
// image archives and the train's images in agent/images, a systemd unit and its env file; it
// starts or restarts k3s only when something it runs with changed, waits for the node and the
// core pods, and keeps a kubeconfig where the CLI finds it without KUBECONFIG.
//
// Provision runs an ordered list of steps; each decides from facts on the host whether it still
// has work, so a killed run, run again, finishes the job. What k3s was last started with is
// recorded (AppliedPath), so a restart owed by a killed run is not forgotten.
//
// k3s itself cannot run where the project is built and tested: tests run every step on real
// files under a temporary root, with host.Recorder standing in for systemctl and client-go's
// fake clientset (or an API server) standing in for the cluster k3s would start.
package k3s
