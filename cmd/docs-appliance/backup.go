package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

func newBackupCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "backup", Short: "Take and list backup sets: database, media, identity, the desired-state repository and the appliance's state"}
	var trainFile, kubeconfig string
	var caFiles []string
	var dryRun bool
	now := &cobra.Command{
		Use:   "now",
		Short: "Take a backup set now, wait for every part, verify each landed, report",
		Long: "Take a backup set: a CloudNativePG base backup (checked in the target), the media bucket's\n" +
			"objects, a git bundle of the desired-state repository (every ref), the saved config and the\n" +
			"encrypted secret store, then the set's manifest. A run that was stopped finishes its set when\n" +
			"run again, without sending again what landed. The age key is never part of a set.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := installer.NewBackupNow(app.hostStateDir(), trainFile, kubeconfig, host.Root(app.flags.root))
			b.DryRun, b.CAFiles = dryRun, caFiles
			err := b.Run(cmd.Context(), app.Status())
			if b.Result == nil {
				return err
			}
			if err != nil {
				if werr := app.result(b.Result, ""); werr != nil {
					return werr
				}
				return err
			}
			text := ""
			if b.Result.DryRun {
				text = planText(b.Result.Plan)
			} else if b.Result.Manifest != nil {
				text = b.Result.Manifest.Text()
			}
			return app.result(b.Result, text+b.Result.AgeKey.Message+"\n")
		},
	}
	now.Flags().BoolVar(&dryRun, "dry-run", false, "show the steps a backup would take, contacting nothing")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the backup sets (complete or not, size per part), the database backups, the recovery window and the newest consistent set",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := installer.NewBackupList(app.hostStateDir(), trainFile, kubeconfig, host.Root(app.flags.root))
			b.CAFiles = caFiles
			if err := b.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			return app.result(b.Listing, b.Listing.Text(time.Now()))
		},
	}
	for _, c := range []*cobra.Command{now, list} {
		c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
		c.Flags().StringArrayVar(&caFiles, "ca-file", nil, "a CA certificate (PEM) the backup target, the media store or the repository is signed by, beyond this host's system CAs (repeatable)")
		c.Flags().StringVar(&trainFile, "train-file", "", "the release train the appliance was installed with, when it is not one of this binary's")
	}
	cmd.AddCommand(now, list)
	return cmd
}

// planText is a dry run's steps, one a line with its deadline.
func planText(plan []steps.Planned) string {
	var b strings.Builder
	b.WriteString("A backup would take these steps:\n")
	for i, p := range plan {
		fmt.Fprintf(&b, "  %d. %s (%s, at most %s)\n", i+1, p.Title, p.ID, time.Duration(p.Deadline*float64(time.Second)))
	}
	return b.String()
}
