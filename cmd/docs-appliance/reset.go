package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/reset"
)

type resetFlags struct {
	yes, purge, deleteBackups bool
}

func newResetCommand(app *App) *cobra.Command {
	f := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Remove k3s and the appliance state from this host, keeping the age key and the volumes (database, documents, backups) unless --purge; backups only go with --delete-backups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var prompt reset.Prompter
			if in, ok := cmd.InOrStdin().(*os.File); ok {
				prompt = reset.TerminalPrompter(in, app.Err)
			}
			plan, err := reset.Run(cmd.Context(), reset.Options{
				Root: host.Root(app.flags.root), Runner: host.ExecRunner{}, StateDir: app.hostStateDir(),
				Purge: f.purge, DeleteBackups: f.deleteBackups, Yes: f.yes, Prompt: prompt,
			}, app.Status())
			if err != nil {
				return err
			}
			return app.resetResult(plan)
		},
	}
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&f.purge, "purge", false, "remove the age key and the volumes too: the whole state folder but for the embedded backups volume (the database and the documents are gone, and the encrypted desired state can never be decrypted again)")
	cmd.Flags().BoolVar(&f.deleteBackups, "delete-backups", false, "with --purge, delete the embedded object store's backups volume too (the database archive and media copies in <state>/volumes/pvc-*_object-store_backups-objectstore-0): nothing is left to restore from on this server")
	return cmd
}
