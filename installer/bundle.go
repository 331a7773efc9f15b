package installer

import (
	"context"
	"path/filepath"
	"runtime"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// importBundle verifies and imports --bundle (nothing is placed before the
// whole bundle is checked), then makes its charts the first chart store
// and its folder the source of the k3s artifacts. The bundle must be
// signed with --bundle-key, else with the release key built into the
// binary; a development build without a key refuses it unless
// --insecure-skip-bundle-verify.
func (i *Install) importBundle(ctx context.Context, st *status.Status) (string, error) {
	if i.Bundle == "" {
		return "", nil
	}
	trust, err := airgap.ResolveTrust(airgap.TrustFlags{
		KeyFile: i.BundleKey, KeyFlag: "--bundle-key",
		InsecureSkipVerify: i.BundleInsecureSkipVerify,
		ReleaseKey:         release.BundleKey,
	})
	if err != nil {
		return "", err
	}
	res, err := airgap.Import(ctx, airgap.ImportOptions{Bundle: i.Bundle, StateDir: i.Inputs.StateDir, Trust: trust, Arch: runtime.GOARCH, Status: st})
	if err != nil {
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
