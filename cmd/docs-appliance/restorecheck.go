package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

func newRestoreCheckCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "restore-check", Short: "Prove the backups restore: a throwaway database recovered and checked"}
	r := &installer.RestoreCheck{}
	now := &cobra.Command{
		Use:   "now",
		Short: "Run the restore check now and wait for it (the daily CronJob's check), reporting RTO and RPO",
		Long: "Recover a throwaway PostgreSQL cluster from the newest completed backup, check Docs' tables, row\n" +
			"counts, migrations (and the identity realm) against the live database, measure the time to restore\n" +
			"(RTO) and the data at risk (RPO), record the result where doctor reads it, and remove the throwaway\n" +
			"cluster. A run of the daily CronJob already going is waited for, not doubled.\n" +
			"Exit code 0 passed, 3 the check ran and failed, 1 it could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r.StateDir, r.Root = app.hostStateDir(), host.Root(app.flags.root)
			err := r.Run(cmd.Context(), app.Status())
			if r.Report == nil || (r.Report.Result == nil && r.Report.Plan == nil) {
				return err
			}
			if werr := app.result(r.Report, r.Report.Text()); werr != nil {
				return errors.Join(err, werr)
			}
			return err
		},
	}
	fs := now.Flags()
	fs.StringVar(&r.Kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	fs.DurationVar(&r.Timeout, "timeout", installer.DefaultRestoreCheckTimeout, "how long to wait for the check")
	fs.BoolVar(&r.DryRun, "dry-run", false, "describe the steps and run nothing")
	cmd.AddCommand(now)
	return cmd
}
