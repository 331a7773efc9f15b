package installer

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// importBundle verifies and imports --bundle (nothing is placed before the
// whole bundle is checked), then makes its charts the first chart store
// and its folder the source of the k3s artifacts.
func (i *Install) importBundle(ctx context.Context, st *status.Status) (string, error) {
	if i.Bundle == "" {
		return "", nil
	}
	var pub ed25519.PublicKey
	if i.BundleKey != "" {
		k, err := airgap.LoadPublicKey(i.BundleKey)
		if err != nil {
			return "", fmt.Errorf("reading --bundle-key: %w", err)
		}
		pub = k
	}
	st.Start("importing bundle " + filepath.Base(i.Bundle))
	res, err := airgap.Import(ctx, airgap.ImportOptions{Bundle: i.Bundle, StateDir: i.Inputs.StateDir, PublicKey: pub, Arch: runtime.GOARCH, Status: st})
	if st.End(err) != nil {
		return "", err
	}
	if res.AlreadyImported {
		st.Info("bundle of train %s already imported in %s", res.Manifest.Train, res.Dir)
	}
	i.bundleTrain = res.Manifest.Train
	i.artifactsDir = i.root().HostPath(res.Dir)
	i.Inputs.BundleChartsDir = filepath.Join(res.Dir, airgap.ChartsDir)
	return res.Dir, nil
}
