package main

import (
	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer/release"
)

func newVersionCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the binary's version, commit and embedded release trains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := release.Describe()
			if err != nil {
				return err
			}
			return app.result(info, info.Text())
		},
	}
}

func newTrainsCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trains",
		Short: "List the embedded release trains and the upgrade graph",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := release.Describe()
			if err != nil {
				return err
			}
			return app.result(info.Trains, info.TrainsText())
		},
	}
	cmd.AddCommand(newTrainsLockCommand(app), newTrainsFetchChartsCommand(app))
	return cmd
}
