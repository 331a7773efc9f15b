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

// App carries what every command needs: where to read and write, and the
// shared flags. Out is for the command's one result; Err for the status,
// prompts and the error message.
type App struct {
	In       io.Reader
	Out, Err io.Writer
	flags    globalFlags
	// wrote is set once a result (or the error document) went to Out.
	wrote bool
}

// Status builds the one status object a command passes down: on stderr, so
// that stdout holds only the result.
func (a *App) Status() *status.Status {
	return status.ForWriter(a.Err, a.JSON())
}

// JSON reports whether the operator asked for machine-readable output.
func (a *App) JSON() bool { return a.flags.output == "json" }

// NewRootCommand builds the command tree writing the result to out and
// everything else to errOut, reading os.Stdin; Execute adds the exit code
// and the error document.
func NewRootCommand(out, errOut io.Writer) *cobra.Command {
	return newRootCommand(&App{Out: out, Err: errOut})
}

// newRootCommand builds the command tree for app.
func newRootCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "docs-appliance",
		Short:         "Install and run La Suite Docs on one server, online or air-gapped",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return app.flags.validate()
		},
	}
	cmd.SetIn(app.In)
	cmd.SetOut(app.Out)
	cmd.SetErr(app.Err)
	pf := cmd.PersistentFlags()
	pf.StringVarP(&app.flags.output, "output", "o", "text", "output format: text or json (one JSON document on stdout: the result, or {\"error\": ...})")
	pf.StringVar(&app.flags.stateDir, "state-dir", "", "folder for the age key and generated secrets (default /var/lib/docs-appliance for root, $XDG_STATE_HOME/docs-appliance otherwise)")
	pf.StringVar(&app.flags.root, "root", "/", "host filesystem root; every host path is taken under it")
	_ = pf.MarkHidden("root")
	cmd.AddCommand(
		newVersionCommand(app),
		newTrainsCommand(app),
		newRenderCommand(app),
		newInstallCommand(app),
		newUpgradeCommand(app),
		newRollbackCommand(app),
		newAirgapCommand(app),
		newPreflightCommand(app),
		newResetCommand(app),
		newConfigureCommand(app),
		newDoctorCommand(app),
		newKeyCommand(app),
		newBackupCommand(app),
		newNodeCommand(app),
		newJoinCommand(app),
		newRestoreCommand(app),
		newRestoreCheckCommand(app),
		newValidateCommand(app),
	)
	return cmd
}
