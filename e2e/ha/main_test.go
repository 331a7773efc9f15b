//go:build e2e

// Package ha is the end-to-end test of the appliance on three servers: a cluster of three nodes
// (e2e/node: the control plane's and two further kubelets, each with containerd and kube-proxy in
// a network namespace of its own, pod networks routed between them), all labelled as k3s labels
// its servers, the appliance installed with profile ha through Git and Flux (the stand-in train
// of e2e/appliance), and the loss of one node while a prober stands in for the app's users.
package ha

import (
	"os"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
)

var testNode *node.Node

// The controller-manager waits for a silent node as the appliance's k3s servers do on embedded
// etcd (installer/k3s sets it in their config.yaml): the loss the test measures is the one an
// appliance's users would see.
func TestMain(m *testing.M) {
	os.Exit(node.MainCluster(m, &testNode, node.Options{Nodes: 3, NodeMonitorGracePeriod: k3s.NodeMonitorGracePeriod}))
}
