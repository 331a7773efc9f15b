package installer

import (
	"context"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// forwardObjectStore reaches the embedded object store from this host: a port-forward to its
// Service, set up within ctx, that lives as long as life. It returns the endpoint URL (plain
// HTTP, as Docs talks to the store inside the cluster; the API server's TLS carries it here).
func forwardObjectStore(ctx, life context.Context, c *cluster.Client) (string, error) {
	ns, svc, port := render.ObjectStoreService()
	fwd, err := c.PortForwardUntil(ctx, life, ns, "service/"+svc, port)
	if err != nil {
		return "", err
	}
	return "http://" + fwd.Addr, nil
}
