package preflight

import (
	"context"
	"fmt"
	"path"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// Request is `docs-appliance preflight` as the operator asks it: flags bind straight into its
// fields. Values left empty come from the config file when one is given, then from defaults.
type Request struct {
	// Root is the host filesystem root; StateDir the state folder as a host path (the bundle
	// is imported into StateDir/bundles).
	Root, StateDir string
	// ConfigPath is an appliance.yaml giving the profile, domains, air-gap and train.
	ConfigPath string
	Profile    string
	Train      string
	Domains    []string
	Airgapped  bool
	// Bundle is the air-gap bundle file the install will import.
	Bundle string
	Ignore []string
	// Kubeconfig checks that existing cluster instead of this host.
	Kubeconfig string
}

// Run resolves the request and runs the host checks, or the cluster checks when Kubeconfig is
// set. Bad input (an unknown profile, train or check ID, an unreadable config) is an error
// before any check runs.
func (r Request) Run(ctx context.Context) (*Report, error) {
	if r.ConfigPath != "" {
		cfg, err := config.Load(r.ConfigPath)
		if err != nil {
			return nil, err
		}
		cfg.ApplyDefaults()
		if r.Profile == "" {
			r.Profile = cfg.Profile
		}
		if r.Train == "" {
			r.Train = cfg.Train
		}
		if len(r.Domains) == 0 && cfg.Domain != "" {
			r.Domains = cfg.Hosts()
		}
		r.Airgapped = r.Airgapped || cfg.Airgapped
	}
	if r.Profile == "" {
		r.Profile = "single-small"
	}
	catalog, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, err
	}
	train := catalog.Latest()
	if r.Train != "" {
		if train, err = catalog.Get(r.Train); err != nil {
			return nil, fmt.Errorf("--train: %w", err)
		}
	}
	if r.Kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", r.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", r.Kubeconfig, err)
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("building a client from %s: %w", r.Kubeconfig, err)
		}
		return CheckCluster(ctx, ClusterOptions{Client: client, Train: train, Airgapped: r.Airgapped, Ignore: r.Ignore})
	}
	prof, err := profiles.Get(r.Profile)
	if err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	if r.StateDir == "" {
		r.StateDir = config.DefaultStateDir()
	}
	o := Options{
		Root: host.Root(r.Root), Profile: prof, Train: train, Domains: r.Domains, Airgapped: r.Airgapped,
		Ignore: r.Ignore,
	}
	if r.Bundle != "" {
		o.BundlePath, o.BundleDir = r.Bundle, path.Join(r.StateDir, "bundles")
	}
	return Run(ctx, o)
}
