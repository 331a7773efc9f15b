//go:build e2e

// Package install is the end-to-end test of `docs-appliance install` on the one-node cluster:
// the real binary, a real API server, kubelet and containerd, the real Flux controllers, the
// real git server image, and a train of stand-in charts and images. Only k3s itself is not
// here: the test installs onto the e2e node with --kubeconfig.
package install

import (
	"os"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.Main(m, &testNode)) }
