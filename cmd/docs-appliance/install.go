package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

type installFlags struct {
	inputs     inputFlags
	dryRun     bool
	out        string
	kubeconfig string
	ignore     []string
}

func newInstallCommand(app *App) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install Docs on this server (or an existing cluster); --dry-run shows the plan",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := &installer.Install{
				Inputs: f.inputs.options(app), DryRun: f.dryRun, OutDir: f.out, Kubeconfig: f.kubeconfig,
				Root: host.Root(app.flags.root), IgnorePreflight: f.ignore,
			}
			st := app.Status()
			if err := in.Run(cmd.Context(), st); err != nil {
				return err
			}
			if in.Plan != nil {
				if app.JSON() {
					enc := json.NewEncoder(app.Out)
					enc.SetIndent("", "  ")
					return enc.Encode(in.Plan)
				}
				return in.Plan.WriteText(app.Out)
			}
			return nil
		},
	}
	f.inputs.bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "render the repository into --out and print the plan; change nothing on the host")
	cmd.Flags().StringVarP(&f.out, "out", "O", "docs-appliance-rendered", "folder for the dry run's rendered repository")
	cmd.Flags().StringSliceVar(&f.ignore, "ignore-preflight", nil, "skip these host checks, knowingly (the summary names them): "+strings.Join(preflight.IDs(preflight.HostChecks()), ", "))
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "install onto this existing cluster instead of provisioning k3s")
	return cmd
}
