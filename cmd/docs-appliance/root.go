package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// globalFlags are the flags every command shares.
type globalFlags struct {
	output   string
	stateDir string
	root     string
}

// App carries what every command needs: where to write and the shared flags.
type App struct {
	Out, Err io.Writer
	flags    globalFlags
}

// Status builds the one status object a command passes down.
func (a *App) Status() *status.Status {
	return status.ForWriter(a.Out, a.flags.output == "json")
}

// JSON reports whether the operator asked for machine-readable output.
func (a *App) JSON() bool { return a.flags.output == "json" }

// NewRootCommand builds the command tree.
func NewRootCommand(out, errOut io.Writer) *cobra.Command {
	app := &App{Out: out, Err: errOut}
	cmd := &cobra.Command{
		Use:           "docs-appliance",
		Short:         "Install and run La Suite Docs on one server, online or air-gapped",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return app.flags.validate()
		},
	}
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	pf := cmd.PersistentFlags()
	pf.StringVarP(&app.flags.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&app.flags.stateDir, "state-dir", "", "folder for the age key and generated secrets (default /var/lib/docs-appliance for root, $XDG_STATE_HOME/docs-appliance otherwise)")
	pf.StringVar(&app.flags.root, "root", "/", "host filesystem root; every host path is taken under it")
	_ = pf.MarkHidden("root")
	cmd.AddCommand(
		newVersionCommand(app),
		newTrainsCommand(app),
		newRenderCommand(app),
		newInstallCommand(app),
		newAirgapCommand(app),
		newPreflightCommand(app),
		newResetCommand(app),
		newConfigureCommand(app),
	)
	return cmd
}
