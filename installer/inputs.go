package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// InputOptions say where a run's inputs come from.
type InputOptions struct {
	// ConfigPath is appliance.yaml; empty means the config the last install
	// saved in the state folder, or the defaults, plus Sets.
	ConfigPath string
	// TrainFile is a release train given as a file (--train-file), beside the
	// embedded ones: a train newer than this binary, or a test train. It must
	// validate, and install still refuses it unless it is locked.
	TrainFile string
	// Trains are more trains beside the embedded ones, already parsed
	// (upgrade --plan's --train-file, repeatable).
	Trains []*bundles.Train
	// Sets are --set key=value overrides, applied in order.
	Sets []string
	// SecretFiles are --secret name=FILE: secrets given by the operator,
	// each file holding only the value.
	SecretFiles []string
	// StateDir holds the age key and the secret store.
	StateDir string
	// ChartsDir is --charts DIR, searched before the embedded charts.
	ChartsDir string
	// BundleChartsDir is an imported bundle's charts folder.
	BundleChartsDir string
	// ReadOnly never writes the state folder: a missing key or secret is
	// made in memory for this run (dry run).
	ReadOnly bool
}

// Inputs are everything a render or install works from.
type Inputs struct {
	Catalog *bundles.Catalog
	Config  *config.Config
	Train   *bundles.Train
	Profile *profiles.Profile
	Store   *secrets.Store
	Charts  bundles.ChartStore
	// Generated lists the secrets made by this run (names only).
	Generated []string
	// Warnings are findings about the inputs that do not block: the
	// install shows them (a provided certificate expiring soon, say).
	Warnings []string
	// Branding is the config's branding files and values as checked, nil
	// without branding.
	Branding *config.BrandAssets
}

// Recipients are the age keys the repository's secrets are encrypted for:
// the appliance's own, then the operator's.
func (in *Inputs) Recipients() []string {
	return append([]string{in.Store.Recipient()}, in.Config.AgeRecipients...)
}

// LoadInputs reads the config, applies overrides and defaults, validates
// everything at once — including that every secret the config needs is
// given — and only then opens (or, unless ReadOnly, creates) the state
// folder. Nothing is written when the input is bad.
func LoadInputs(o InputOptions) (*Inputs, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, fmt.Errorf("loading release trains: %w", err)
	}
	for _, t := range o.Trains {
		if err := cat.Add(t); err != nil {
			return nil, fmt.Errorf("adding train %s: %w", t.Name, err)
		}
	}
	var fileTrain *bundles.Train
	if o.TrainFile != "" {
		data, err := os.ReadFile(o.TrainFile)
		if err != nil {
			return nil, fmt.Errorf("reading --train-file: %w", err)
		}
		if fileTrain, err = bundles.ParseTrain(data); err != nil {
			return nil, fmt.Errorf("loading --train-file %s: %w", o.TrainFile, err)
		}
		if err := cat.Add(fileTrain); err != nil {
			return nil, fmt.Errorf("loading --train-file %s: %w", o.TrainFile, err)
		}
	}
	cfg := &config.Config{}
	configPath := o.ConfigPath
	if configPath == "" {
		if _, err := os.Stat(SavedConfigPath(o.StateDir)); err == nil {
			configPath = SavedConfigPath(o.StateDir)
		}
	}
	if configPath != "" {
		if cfg, err = config.Load(configPath); err != nil {
			return nil, err
		}
	}
	if err := cfg.Resolve(o.Sets); err != nil {
		return nil, err
	}
	// An installed appliance stays on its train unless the config names another (which only
	// upgrade moves to).
	cfg.DefaultTrain(savedTrain(o.StateDir), "the train this appliance runs (its saved config)")
	if fileTrain != nil {
		cfg.DefaultTrain(fileTrain.Name, "--train-file "+o.TrainFile)
	}
	cfg.DefaultTrain(cat.Latest().Name, "the newest train of this binary")
	given, err := parseSecretFiles(o.SecretFiles)
	if err != nil {
		return nil, err
	}

	// Validate against what the store already has plus what is given now,
	// without creating anything.
	existing, err := secrets.OpenStoreReadOnly(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("opening the state folder %s: %w", o.StateDir, err)
	}
	last := lastConfig(o.StateDir)
	existing.ResolveUnrecorded(last)
	have := func(name string) config.SecretOrigin {
		if _, ok := given[name]; ok {
			return config.SecretGiven
		}
		return existing.Origin(name)
	}
	if err := cfg.Validate(cat, have); err != nil {
		return nil, err
	}
	tlsIn, err := readProvidedTLS(cfg)
	if err != nil {
		return nil, err
	}
	// Read again after Validate: what is rendered is what was checked.
	brand, brandErrs := cfg.CheckBranding()
	if len(brandErrs) > 0 {
		return nil, &bundles.ValidationError{Subject: "config", Fields: brandErrs}
	}
	train, _ := cat.Get(cfg.Train)
	profile, err := profiles.Get(cfg.Profile)
	if err != nil {
		return nil, err
	}

	store := existing
	if !o.ReadOnly {
		if store, err = secrets.OpenStore(o.StateDir); err != nil {
			return nil, fmt.Errorf("opening the state folder %s: %w", o.StateDir, err)
		}
		store.ResolveUnrecorded(last)
	}
	for name, path := range given {
		if err := store.SetFromFile(name, path); err != nil {
			return nil, err
		}
	}
	tlsIn.store(store)
	generated, err := store.Ensure(cfg.RequiredSecrets())
	if err != nil {
		return nil, fmt.Errorf("generating secrets: %w", err)
	}
	if err := store.Save(); err != nil {
		return nil, err
	}

	var stores []bundles.ChartStore
	if o.ChartsDir != "" {
		stores = append(stores, bundles.DirStore(o.ChartsDir))
	}
	if o.BundleChartsDir != "" {
		stores = append(stores, bundles.DirStore(o.BundleChartsDir))
	}
	stores = append(stores, bundles.EmbeddedStore())
	return &Inputs{
		Catalog: cat, Config: cfg, Train: train, Profile: profile, Store: store,
		Charts: bundles.Chain(stores...), Generated: generated, Warnings: append(append(cfg.Warnings(), render.HAWarnings(profile, cfg)...), tlsIn.warnings()...), Branding: brand,
	}, nil
}

// SavedConfigPath is where install keeps the config of the last render it
// pushed: `install --set key=value` later starts from it.
func SavedConfigPath(stateDir string) string { return wizard.DefaultConfigPath(stateDir) }

// lastConfig is the config saved by the last run in the state folder, with
// its defaults, or nil: it tells which mode an older binary's unrecorded
// secrets were stored under.
func lastConfig(stateDir string) *config.Config {
	c, err := config.Load(SavedConfigPath(stateDir))
	if err != nil || c.Resolve(nil) != nil {
		return nil
	}
	return c
}

// parseSecretFiles reads --secret name=FILE flags (values stay in files:
// never on the command line, where ps and shell history would show them).
func parseSecretFiles(flags []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, f := range flags {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			errs = append(errs, fmt.Errorf("--secret %q: write NAME=FILE, e.g. --secret identity.clientSecret=/root/oidc-secret", f))
			continue
		}
		if !filepath.IsAbs(path) {
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
		}
		out[name] = path
	}
	return out, errors.Join(errs...)
}
