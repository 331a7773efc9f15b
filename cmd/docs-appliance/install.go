package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

type installFlags struct {
	inputs         inputFlags
	dryRun         bool
	out            string
	kubeconfig     string
	bundle         string
	bundleKey      string
	skipBundleSig  bool
	ignore         []string
	nonInteractive bool
	timeout        time.Duration
	nameserver     string
	caFiles        []string
}

func newInstallCommand(app *App) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install Docs on this server (or an existing cluster), or apply a changed config; --dry-run shows the plan",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := &installer.Install{
				Inputs: f.inputs.options(app), DryRun: f.dryRun, OutDir: f.out, Kubeconfig: f.kubeconfig,
				Bundle: f.bundle, BundleKey: f.bundleKey, BundleInsecureSkipVerify: f.skipBundleSig,
				Root: host.Root(app.flags.root), IgnorePreflight: f.ignore, NonInteractive: f.nonInteractive,
				Timeout: f.timeout, Nameserver: f.nameserver, CAFiles: f.caFiles,
			}
			if err := in.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			return app.installResult(in)
		},
	}
	f.inputs.bind(cmd.Flags())
	cmd.Flags().StringArrayVar(&f.caFiles, "ca-file", nil, "a CA certificate (PEM) your users' browsers trust for the appliance, for the last step's TLS check (repeatable)")
	cmd.Flags().StringVar(&f.nameserver, "nameserver", "", "the DNS server (host:port) the last step asks for the domains, instead of the system's: the one your users ask")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "render the repository into --out and print the plan; change nothing on the host")
	cmd.Flags().StringVarP(&f.out, "out", "O", "docs-appliance-rendered", "folder for the dry run's rendered repository")
	cmd.Flags().StringSliceVar(&f.ignore, "ignore-preflight", nil, "skip these host checks, knowingly (the summary names them): "+strings.Join(preflight.IDs(preflight.HostChecks()), ", "))
	cmd.Flags().StringVar(&f.bundle, "bundle", "", "air-gap bundle (.tar.zst) to verify and import first: k3s, images and charts come from it")
	cmd.Flags().StringVar(&f.bundleKey, "bundle-key", "", "public key (PEM) the bundle must be signed with, instead of the release key built into this binary")
	cmd.Flags().BoolVar(&f.skipBundleSig, strings.TrimPrefix(airgap.SkipVerifyFlag, "--"), false, "INSECURE: accept a bundle whose signature cannot be checked (unsigned, or no key to check it), on its integrity alone")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "install onto this existing cluster instead of provisioning k3s")
	cmd.Flags().BoolVar(&f.nonInteractive, "non-interactive", false, "never prompt: every answer comes from --config (or the saved config), --set and --secret")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Minute, "how long to wait for Flux to apply the desired state")
	return cmd
}
