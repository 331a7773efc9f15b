package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/release"
)

type airgapBuildFlags struct {
	train, trainFile, arch, out, key, flux, charts string
	pinUnlocked                                    bool
	jobs                                           int
}

func newAirgapCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "airgap",
		Short: "Build, check and load air-gap bundles (one .tar.zst per train and architecture)",
	}
	cmd.AddCommand(
		newAirgapBuildCommand(app),
		newAirgapVerifyCommand(app),
		newAirgapImportCommand(app),
		newAirgapKeygenCommand(app),
	)
	return cmd
}

func newAirgapBuildCommand(app *App) *cobra.Command {
	var f airgapBuildFlags
	cmd := &cobra.Command{
		Use:   "build",
		Short: "On a connected machine: pull a train's k3s, images, charts and Flux manifests into one signed bundle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			train, err := loadTrain(f.train, f.trainFile)
			if err != nil {
				return err
			}
			out := f.out
			if out == "" {
				out = airgap.FileName(train.Name, f.arch)
			}
			opts := airgap.BuildOptions{
				Train: train, Arch: f.arch, Out: out, PinUnlocked: f.pinUnlocked, Jobs: f.jobs,
				Charts:  bundles.EmbeddedStore(),
				Builder: "docs-appliance " + release.Version,
				Status:  app.Status(),
			}
			if f.charts != "" {
				opts.Charts = bundles.Chain(bundles.DirStore(f.charts), bundles.EmbeddedStore())
			}
			if f.flux != "" {
				opts.Flux = os.DirFS(f.flux)
			}
			if f.key != "" {
				if opts.Key, err = airgap.LoadPrivateKey(f.key); err != nil {
					return err
				}
			}
			res, err := airgap.Build(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.builtResult(res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.train, "train", "", "release train embedded in this binary, e.g. 2026.11 (see \"docs-appliance trains\")")
	fl.StringVar(&f.trainFile, "train-file", "", "release train YAML file, instead of --train")
	fl.StringVar(&f.arch, "arch", "amd64", "architecture of the servers: amd64 or arm64")
	fl.StringVar(&f.out, "out", "", "bundle file to write (default docs-appliance-<train>-<arch>.tar.zst in the current folder)")
	fl.StringVar(&f.key, "key", "", "ed25519 private key (PEM) that signs the bundle; make one with \"docs-appliance airgap keygen\"")
	fl.StringVar(&f.flux, "flux-manifests", "", "folder holding the pinned Flux install manifests")
	fl.StringVar(&f.charts, "charts", "", "folder of <name>-<version>.tgz charts to take instead of downloading them")
	fl.BoolVar(&f.pinUnlocked, "pin-unlocked", false, "build an unlocked train, recording the digests the servers answer now (trust on first use)")
	fl.IntVar(&f.jobs, "jobs", 4, "artifacts downloaded at once")
	return cmd
}

// loadTrain resolves --train or --train-file.
func loadTrain(name, file string) (*bundles.Train, error) {
	switch {
	case name != "" && file != "":
		return nil, errors.New("--train and --train-file: pass one of them")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading --train-file: %w", err)
		}
		t, err := bundles.ParseTrain(data)
		if err != nil {
			return nil, fmt.Errorf("loading --train-file %s: %w", file, err)
		}
		return t, nil
	case name != "":
		cat, err := bundles.LoadEmbedded()
		if err != nil {
			return nil, fmt.Errorf("loading embedded trains: %w", err)
		}
		return cat.Get(name)
	}
	return nil, errors.New("no train given: pass --train NAME (see `docs-appliance trains`) or --train-file FILE")
}

// trustFlags are the signature flags of airgap verify and airgap import.
type trustFlags struct {
	key  string
	skip bool
}

func (f *trustFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.key, "key", "", "public key (PEM) the bundle must be signed with, instead of the release key built into this binary")
	cmd.Flags().BoolVar(&f.skip, strings.TrimPrefix(airgap.SkipVerifyFlag, "--"), false, "INSECURE: accept a bundle whose signature cannot be checked (unsigned, or no key to check it), on its integrity alone")
}

// trust is the key bundles must be signed with: --key, else the release key.
func (f *trustFlags) trust() (airgap.Trust, error) {
	return airgap.ResolveTrust(airgap.TrustFlags{KeyFile: f.key, KeyFlag: "--key", InsecureSkipVerify: f.skip, ReleaseKey: release.BundleKey})
}

func newAirgapVerifyCommand(app *App) *cobra.Command {
	var f trustFlags
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle in one pass, writing nothing: signature, manifest, every file's size and sha256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			trust, err := f.trust()
			if err != nil {
				return err
			}
			res, err := airgap.Verify(cmd.Context(), airgap.VerifyOptions{Bundle: args[0], Trust: trust, Status: app.Status()})
			if err != nil {
				return err
			}
			return app.verifiedResult(args[0], res)
		},
	}
	f.bind(cmd)
	return cmd
}

func newAirgapImportCommand(app *App) *cobra.Command {
	var f trustFlags
	cmd := &cobra.Command{
		Use:   "import BUNDLE",
		Short: "Check and unpack a bundle into the state folder, in one streaming pass",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stateDir := app.flags.stateDir
			if stateDir == "" {
				stateDir = config.DefaultStateDir()
			}
			stateDir, err := filepath.Abs(stateDir)
			if err != nil {
				return fmt.Errorf("resolving --state-dir: %w", err)
			}
			trust, err := f.trust()
			if err != nil {
				return err
			}
			res, err := airgap.Import(cmd.Context(), airgap.ImportOptions{
				Bundle:   args[0],
				StateDir: host.Root(app.flags.root).Path(stateDir),
				Trust:    trust,
				Arch:     runtime.GOARCH,
				Status:   app.Status(),
			})
			if err != nil {
				return err
			}
			return app.importedResult(args[0], res)
		},
	}
	f.bind(cmd)
	return cmd
}

func newAirgapKeygenCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make an ed25519 signing key pair: NAME.key (private, 0600) and NAME.pub",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, pub := args[0]+".key", args[0]+".pub"
			id, err := airgap.GenerateKeyFiles(priv, pub)
			if err != nil {
				return err
			}
			app.Status().Info("key %s: private key %s (keep it off the air-gapped site), public key %s (give it to the sites with the bundles)", id, priv, pub)
			return app.result(keygenResult{KeyID: id, PrivateKey: priv, PublicKey: pub}, "")
		},
	}
}
