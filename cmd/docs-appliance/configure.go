package main

import (
	"github.com/AlecAivazis/survey/v2/terminal"
	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

type configureFlags struct {
	configPath     string
	caFile         string
	listen         string
	nonInteractive bool
}

func newConfigureCommand(app *App) *cobra.Command {
	f := &configureFlags{}
	cmd := &cobra.Command{
		Use:   "configure",
		Short: "Answer the appliance's questions, each checked against the real service, and save them",
		Long: "Configure asks for the domain, TLS, sign-in, object storage, git, e-mail and sizing, checks\n" +
			"every answer live (DNS and port 80, the OpenID provider, the S3 bucket, the git remote, the\n" +
			"SMTP relay) and asks again with the reason when one is wrong. The answers are saved as\n" +
			"STATEDIR/appliance.yaml and the secrets, encrypted, beside it: install then runs without questions.\n" +
			"--non-interactive never prompts: it checks the saved answers and lists every problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := &wizard.Configure{
				ConfigPath: f.configPath, StateDir: app.StateDir(), Root: host.Root(app.flags.root),
				CAFile: f.caFile, ListenAddr: f.listen, NonInteractive: f.nonInteractive, Err: app.Err,
			}
			// The questions go to the terminal on stderr: stdout is for the result.
			if in, ok := app.In.(terminal.FileReader); ok {
				c.In = in
			}
			if out, ok := app.Err.(terminal.FileWriter); ok {
				c.Out = out
			}
			if err := c.Run(cmd.Context()); err != nil {
				return err
			}
			return app.result(configureResult{
				ConfigPath: c.ConfigPath, StateDir: c.StateDir, Domain: c.Config.Domain, Profile: c.Config.Profile,
				Train: c.Config.Train, Checked: f.nonInteractive,
			}, "")
		},
	}
	cmd.Flags().StringVarP(&f.configPath, "config", "c", "", "answers file to read and save (default STATEDIR/appliance.yaml)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "PEM bundle of extra certificate authorities the services' certificates chain to")
	cmd.Flags().StringVar(&f.listen, "listen", ":80", "address the port-80 reachability proof listens on")
	cmd.Flags().BoolVar(&f.nonInteractive, "non-interactive", false, "never prompt: check the saved answers and list every missing or bad field")
	return cmd
}
