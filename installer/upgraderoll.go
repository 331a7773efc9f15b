package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Per node of a rollout: its drain, its swap, and its return on the new version each get this.
const rolloutNodeDeadline = 10 * time.Minute

// rollK3s upgrades the k3s of a cluster of several nodes one node at a time (nodes.Rollout):
// this server first, swapped by the same provisioning steps as a single server's, then every
// other node by a swap pod whose image carries the binary this server now runs, imported into
// its containerd and pulled by the others through k3s's embedded registry mirror.
func (h *hop) rollK3s(ctx context.Context, st *status.Status, c *cluster.Client) error {
	opts := h.r.k3sOptions()
	local, err := localNodeName(opts.Root)
	if err != nil {
		return err
	}
	var img *nodes.SwapImage
	ro := &nodes.Rollout{
		Kube: c.Kube, Version: h.to.K3s.Version, Local: local,
		SwapLocal: func(ctx context.Context) error { return provisionK3s(ctx, st, opts) },
		SwapRemote: func(ctx context.Context, n nodes.Node) error {
			if img == nil {
				if img, err = h.swapImage(ctx, st, opts.Root); err != nil {
					return err
				}
			}
			return nodes.RunSwap(ctx, c.Kube, n.Name, img, 2*time.Second, rolloutNodeDeadline)
		},
		DrainTimeout: rolloutNodeDeadline, ReadyTimeout: rolloutNodeDeadline, Poll: 2 * time.Second,
		Say: func(format string, args ...any) { st.Info(format, args...) },
	}
	return ro.Run(ctx)
}

// localNodeName is this host's node name, as k3s names it.
func localNodeName(root host.Root) (string, error) {
	name, err := root.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming this host's node: %w", err)
	}
	return strings.ToLower(name), nil
}

// swapImage builds the swap image from the k3s this server runs now (the local swap checked its
// sum against the train) and this program, and imports it into this server's containerd.
func (h *hop) swapImage(ctx context.Context, st *status.Status, root host.Root) (*nodes.SwapImage, error) {
	self := h.u.ApplianceBinary
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding this program for the k3s swap image: %w", err)
		}
	}
	archive := filepath.Join(h.u.StateDir, "k3s-swap-"+strings.ReplaceAll(h.to.K3s.Version, "+", "-")+".tar")
	img, err := nodes.BuildSwapImage(root.Path(k3s.BinaryPath), self, h.to.K3s.Version, root.Path(archive))
	if err != nil {
		return nil, err
	}
	// The other nodes get what this server runs: it must be the train's pinned binary.
	if pin := h.to.K3s.Artifacts[runtime.GOARCH].BinarySHA256; pin != "" && pin != img.K3sSHA256 {
		return nil, fmt.Errorf("this server's %s (sha256 %s) is not train %s's k3s %s (sha256 %s): its own upgrade did not finish; run upgrade again",
			k3s.BinaryPath, img.K3sSHA256, h.to.Name, h.to.K3s.Version, pin)
	}
	if err := importImage(ctx, h.u.runner(), archive); err != nil {
		return nil, fmt.Errorf("importing the k3s swap image into this server's containerd: %w", err)
	}
	st.Info("k3s swap image %s imported (the other nodes pull it through the embedded registry mirror)", img.Ref)
	return img, nil
}

// importImage imports an OCI archive (a host path) into this server's containerd, where k3s's
// embedded registry mirror serves it to the other nodes.
func importImage(ctx context.Context, run host.Runner, archive string) error {
	_, err := run.Run(ctx, host.Command("k3s", "ctr", "-n", "k8s.io", "images", "import", archive))
	return err
}
