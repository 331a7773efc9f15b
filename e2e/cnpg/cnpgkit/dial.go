package cnpgkit

import (
	"context"
	"net"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

// Dialer connects from inside n's network namespace, where StartS3's store listens: for clients
// other than S3.Client (the appliance's backup target, say).
func Dialer(n *node.Node) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return netnsDialer("/run/netns/" + n.Name)
}
