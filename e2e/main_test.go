//go:build e2e

package e2e

import (
	"os"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

// testNode is the one-node Kubernetes every test of this package shares.
var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.Main(m, &testNode)) }
