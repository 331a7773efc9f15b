package main

import (
	"bytes"
	"errors"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// errUpgradeNotBuilt: only the plan exists yet.
var errUpgradeNotBuilt = errors.New("upgrade: only --plan is available in this build (the hops themselves are not built yet); run upgrade --plan")

func newUpgradeCommand(app *App) *cobra.Command {
	u := &installer.UpgradePlan{}
	var plan bool
	cmd := &cobra.Command{
		Use:   "upgrade --plan [--to TRAIN] [--diff]",
		Short: "Move the appliance along the release trains; --plan shows the path, each hop's exact Git diff, the gates and what cannot be undone",
		Long: "--plan is read-only and works offline: from the train the appliance runs (its saved config) to --to\n" +
			"(default: the newest train), every required stop, and per hop k3s, Flux, Docs, every chart and image\n" +
			"change, the desired state's change by component (--diff: the whole unified diff; encrypted files are\n" +
			"compared by their decrypted content and never shown), the disk the new images need, what cannot be\n" +
			"undone, and the gates now (trains locked, doctor, disk, the last restore check).\n" +
			"Exit code 0 every gate passes, 4 a gate warns or was not checked, 3 a gate fails, 5 the graph refuses\n" +
			"the upgrade (a downgrade, a skipped stop, a jump), naming the path to take; 1 the plan could not be made.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !plan {
				return errUpgradeNotBuilt
			}
			u.StateDir, u.Root, u.Runner = app.hostStateDir(), host.Root(app.flags.root), host.ExecRunner{}
			if err := u.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			var text bytes.Buffer
			if err := u.Plan.WriteText(&text); err != nil {
				return err
			}
			if err := app.result(u.Plan, text.String()); err != nil {
				return err
			}
			return u.Plan.Err()
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&plan, "plan", false, "show the plan and change nothing")
	fs.StringVar(&u.To, "to", "", "the train to upgrade to (default: the newest train known)")
	fs.BoolVar(&u.Diff, "diff", false, "print every hop's whole unified diff of the desired state")
	fs.StringArrayVar(&u.TrainFiles, "train-file", nil, "a release train given as a file, beside this binary's (repeatable)")
	fs.StringVar(&u.ChartsDir, "charts", "", "a folder of packaged charts, searched before the ones this binary carries")
	fs.StringVar(&u.Kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	return cmd
}
