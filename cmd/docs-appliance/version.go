package main

import (
	"encoding/json"
	"fmt"

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
			if app.JSON() {
				enc := json.NewEncoder(app.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			_, err = fmt.Fprint(app.Out, info.Text())
			return err
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
			if app.JSON() {
				enc := json.NewEncoder(app.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info.Trains)
			}
			_, err = fmt.Fprint(app.Out, info.TrainsText())
			return err
		},
	}
	cmd.AddCommand(newTrainsLockCommand(app), newTrainsFetchChartsCommand(app))
	return cmd
}
