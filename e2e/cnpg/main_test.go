//go:build e2e

// Package cnpg is the end-to-end test of the database layer's backups on a real CloudNativePG:
// the operator, the barman-cloud plugin and a PostgreSQL built from Debian's packages
// (`make cnpg-kit`) on the one-node cluster, writing to versitygw. It proves what the appliance's
// backup and restore-check build on: a base backup through the plugin and a recovery from it into
// a new cluster, with the rows written after the backup replayed from the archived WAL.
package cnpg

import (
	"os"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.Main(m, &testNode)) }
