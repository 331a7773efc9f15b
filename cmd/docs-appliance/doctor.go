package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

func newDoctorCommand(app *App) *cobra.Command {
	d := &installer.Doctor{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the appliance from the host to a user's browser, with the fix for every finding",
		Long: "Check the host, the cluster, GitOps (drift included), secrets, the platform (database, backups,\n" +
			"restore checks, cache, identity), the edge, the application and the user path (DNS, TLS, the API,\n" +
			"OIDC, media auth, websocket, S3). Groups: " + strings.Join(doctor.Groups, ", ") + ".\n" +
			"Exit code 0 every check passed, 4 warnings only, 3 a check failed, 1 doctor could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d.StateDir, d.Root, d.Runner = app.hostStateDir(), host.Root(app.flags.root), host.ExecRunner{}
			if err := d.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			if err := app.result(d.Report, d.Report.Text()); err != nil {
				return err
			}
			return d.Report.Err()
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&d.Checks, "check", nil, "run only these checks (IDs: "+strings.Join(doctor.IDs(doctor.All()), ", ")+")")
	fs.StringSliceVar(&d.Groups, "group", nil, "run only these groups ("+strings.Join(doctor.Groups, ", ")+")")
	fs.StringVar(&d.Kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	fs.StringVar(&d.TrainFile, "train-file", "", "the release train the appliance was installed with, when it is not one of this binary's")
	fs.StringArrayVar(&d.CAFiles, "ca-file", nil, "a CA certificate (PEM) your users' browsers trust for the appliance, beyond this host's system CAs (repeatable)")
	fs.StringArrayVar(&d.ServerAddresses, "server-address", nil, "a public address of this server (behind NAT) the domains may resolve to (repeatable)")
	fs.StringVar(&d.SupportBundle, "support-bundle", "", "also write FILE (tar.gz) to send to whoever supports the appliance: the report, node facts, Flux objects, events and logs, with every secret redacted")
	fs.BoolVar(&d.WithoutSecretStore, "support-bundle-without-secret-store", false, "write the support bundle even when the secret store cannot be opened (its values are then hidden only where the cluster's Secrets hold them)")
	fs.StringVar(&d.Nameserver, "nameserver", "", "ask this DNS server (host:port) for the domains instead of the system's: the one your users ask")
	return cmd
}

func newKeyCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "The appliance's age key"}
	cmd.AddCommand(&cobra.Command{
		Use:   "confirm-backup",
		Short: "Record that an offline copy of the age key exists (doctor warns until it is recorded)",
		Long: "Every backup's secrets are encrypted for the appliance's age key; without the key no backup\n" +
			"can be restored. Copy the key file off this server, then run this to record which key was copied.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := host.Root(app.flags.root).Path(app.hostStateDir())
			id, err := secrets.LoadKey(dir + "/" + secrets.KeyFileName)
			if err != nil {
				return err
			}
			now := time.Now()
			if err := secrets.ConfirmKeyBackup(dir, id.Recipient().String(), now); err != nil {
				return err
			}
			res := map[string]string{"recipient": id.Recipient().String(), "confirmedAt": now.UTC().Format(time.RFC3339)}
			return app.result(res, "Recorded an offline copy of the age key "+id.Recipient().String()+"\n")
		},
	})
	return cmd
}
