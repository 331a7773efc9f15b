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
)

var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.MainCluster(m, &testNode, node.Options{Nodes: 3})) }
