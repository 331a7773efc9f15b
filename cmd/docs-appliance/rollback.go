package main

import (
	"bytes"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

func newRollbackCommand(app *App) *cobra.Command {
	rb := &installer.Rollback{}
	cmd := &cobra.Command{
		Use:   "rollback [--dry-run]",
		Short: "Return the desired state to the train before the last upgrade hop (git revert of its commit), while that is safe",
		Long: "rollback reverts the last recorded upgrade hop's commit with a new commit (`rollback TO → FROM`), saves\n" +
			"the config on the previous train again and waits for Flux to apply it. It refuses a hop that may have\n" +
			"run a step that cannot be undone (a database migration), naming it and giving the restore command of\n" +
			"the pre-upgrade backup, and a revert that would also undo later commits (config changes), naming them.\n" +
			"k3s and Flux's controllers stay at their new versions.\n" +
			"Exit code 0 rolled back, 3 refused, 1 nothing to roll back or could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rb.StateDir, rb.Root, rb.Runner = app.hostStateDir(), host.Root(app.flags.root), host.ExecRunner{}
			err := rb.Run(cmd.Context(), app.Status())
			if rb.Result != nil {
				var text bytes.Buffer
				installer.WriteRollbackText(&text, rb.Result)
				if werr := app.result(rb.Result, text.String()); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&rb.TrainFiles, "train-file", nil, "a release train given as a file, beside this binary's (repeatable)")
	fs.StringVar(&rb.ChartsDir, "charts", "", "a folder of packaged charts, searched before the ones this binary carries")
	fs.StringVar(&rb.Kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	fs.DurationVar(&rb.Timeout, "timeout", 30*time.Minute, "how long to wait for Flux to apply the previous train")
	fs.BoolVar(&rb.DryRun, "dry-run", false, "print the steps and change nothing")
	return cmd
}
