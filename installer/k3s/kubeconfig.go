package k3s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// StateKubeconfig is the kubeconfig the appliance keeps in its state folder (host path): the
// copy of k3s's own, or the one given with --kubeconfig for an existing cluster.
func StateKubeconfig(stateDir string) string { return filepath.Join(stateDir, "kubeconfig") }

// KeepKubeconfig writes data as the state folder's kubeconfig, 0600 (it holds the cluster's
// admin credentials). It reports whether the file changed.
func KeepKubeconfig(root host.Root, stateDir string, data []byte) (bool, error) {
	if err := root.MkdirAll(stateDir, 0o700); err != nil {
		return false, err
	}
	changed, err := root.WriteFile(StateKubeconfig(stateDir), data, 0o600)
	if err != nil {
		return false, fmt.Errorf("keeping the kubeconfig: %w", err)
	}
	return changed, nil
}

// FindKubeconfig returns the kubeconfig the CLI uses when --kubeconfig is not given, as a path
// to open (under root): the state folder's copy, then k3s's own, then $KUBECONFIG's first file
// and ~/.kube/config. Operators never need to export KUBECONFIG on the appliance.
func FindKubeconfig(root host.Root, stateDir string) (string, error) {
	candidates := []string{root.Path(StateKubeconfig(stateDir)), root.Path(KubeconfigPath)}
	for _, p := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if p != "" {
			candidates = append(candidates, p)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".kube", "config"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("finding a kubeconfig: none at %s or %s: install has not run on this host (pass --kubeconfig to use another cluster)",
		StateKubeconfig(stateDir), KubeconfigPath)
}

// ErrNoKubeconfig is wrapped when k3s has not written its kubeconfig.
var ErrNoKubeconfig = errors.New("k3s has not written its kubeconfig")

func checkKeepKubeconfig(_ context.Context, p *provisioner) (string, error) {
	src, err := p.Root.ReadFile(KubeconfigPath)
	if err != nil {
		return "", nil // the run reports it
	}
	if cur, err := p.Root.ReadFile(StateKubeconfig(p.StateDir)); err == nil && string(cur) == string(src) {
		if st, err := p.Root.Lstat(StateKubeconfig(p.StateDir)); err == nil && st.Mode().Perm() == 0o600 {
			return "the kubeconfig in " + p.StateDir + " is current", nil
		}
	}
	return "", nil
}

func runKeepKubeconfig(_ context.Context, p *provisioner) error {
	src, err := p.Root.ReadFile(KubeconfigPath)
	if err != nil {
		return fmt.Errorf("reading %s: %w: %w", KubeconfigPath, ErrNoKubeconfig, err)
	}
	_, err = KeepKubeconfig(p.Root, p.StateDir, src)
	return err
}
