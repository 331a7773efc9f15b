package main

import (
	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
)

type renderFlags struct {
	inputs       inputFlags
	out          string
	allowMissing bool
}

func newRenderCommand(app *App) *cobra.Command {
	f := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render --config FILE --out DIR",
		Short: "Render the desired-state repository offline, without touching the host",
		Long: "Render turns the config, its release train and profile into the repository Flux applies:\n" +
			"charts rendered to plain YAML, Flux Kustomizations, and SOPS-encrypted secrets.\n" +
			"Rendering again only rewrites files whose content changed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &installer.Render{Inputs: f.inputs.options(app), OutDir: f.out, AllowMissingCharts: f.allowMissing}
			if err := r.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			return app.renderResult(r)
		},
	}
	f.inputs.bind(cmd.Flags())
	cmd.Flags().StringVarP(&f.out, "out", "O", "", "folder to write the repository to")
	cmd.Flags().BoolVar(&f.allowMissing, "allow-missing-charts", false, "render without the charts this build lacks, listing them")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
