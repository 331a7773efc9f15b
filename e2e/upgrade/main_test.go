//go:build e2e

// Package upgrade is the end-to-end test of `docs-appliance upgrade` and `rollback` on the
// one-node cluster: the real binary installs stand-in train 2099.01 through Git and Flux, then
// moves along stand-in trains whose chart and image versions change at each train (2099.01 →
// 2099.02 → 2099.03, a required stop at 02), with a prober inside the node's network namespace
// asking the stand-in app every 100 ms which version answers. Trains that fail after their commit
// (2099.04: the new release never becomes Ready; 2099.05: the same, after a stand-in migration
// declared irreversible) show the automatic rollback and the stop. Only k3s itself is not here:
// the test installs onto the e2e node with --kubeconfig (the k3s step is skipped).
package upgrade

import (
	"os"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.Main(m, &testNode)) }
