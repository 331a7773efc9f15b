package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

type restoreFlags struct {
	install                installFlags
	from, endpoint, region string
	ageKey, set, toTime    string
	caFiles                []string
}

func newRestoreCommand(app *App) *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore --from s3://BUCKET/PREFIX/ --endpoint URL --age-key FILE",
		Short: "Rebuild the appliance from a backup set on a fresh server: database (newest point or --to-time), media, repository, config and secrets",
		Long: "Restore installs the appliance from a backup set that `backup now` took: the set's config and\n" +
			"encrypted secret store (opened with --age-key, the offline copy of the appliance's key), the\n" +
			"database recovered from the set's archive to its newest point (or --to-time) and archiving\n" +
			"under a name of its own, the desired-state history pushed into the new git server, and the\n" +
			"media copied back. The target's keys come as --secret backup.accessKeyID=FILE and\n" +
			"--secret backup.secretAccessKey=FILE. It refuses a server or cluster that already has an\n" +
			"appliance. A stopped restore, run again, carries on with the same set.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &installer.Restore{
				From: f.from, Endpoint: f.endpoint, Region: f.region, AgeKeyFile: f.ageKey, SetID: f.set, CAFiles: f.caFiles,
				Install: installer.Install{
					Inputs: f.install.inputs.options(app), Kubeconfig: f.install.kubeconfig,
					Bundle: f.install.bundle, BundleKey: f.install.bundleKey,
					Root: host.Root(app.flags.root), IgnorePreflight: f.install.ignore, Timeout: f.install.timeout,
					Nameserver: f.install.nameserver, CAFiles: f.install.caFiles,
				},
			}
			if f.ageKey == "" {
				return fmt.Errorf("--age-key is empty: give the file holding the backed-up appliance's age key (its offline copy)")
			}
			if f.toTime != "" {
				t, err := time.Parse(time.RFC3339, f.toTime)
				if err != nil {
					return fmt.Errorf("--to-time %q: give an RFC 3339 time, e.g. 2026-12-02T03:15:00Z", f.toTime)
				}
				r.ToTime = t
			}
			err := r.Run(cmd.Context(), app.Status())
			if r.Result != nil {
				if werr := app.result(r.Result, ""); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	f.install.inputs.bind(fl)
	fl.StringVar(&f.from, "from", "", "the backup target: s3://bucket/prefix/")
	fl.StringVar(&f.endpoint, "endpoint", "", "the backup target's S3 endpoint, https://host[:port]")
	fl.StringVar(&f.region, "region", "", "the backup target's region (default us-east-1)")
	fl.StringVar(&f.ageKey, "age-key", "", "the backed-up appliance's age key file (its offline copy)")
	fl.StringVar(&f.set, "backup-set", "", "the backup set to restore (`backup list`); default: the newest consistent one")
	fl.StringVar(&f.toTime, "to-time", "", "recover the database to this instant (RFC 3339) instead of the newest point")
	fl.StringArrayVar(&f.caFiles, "target-ca-file", nil, "a CA certificate (PEM) the backup target's TLS is signed by, beside the system's (repeatable)")
	fl.StringVar(&f.install.kubeconfig, "kubeconfig", "", "restore onto this existing cluster instead of provisioning k3s")
	fl.StringVar(&f.install.bundle, "bundle", "", "air-gap bundle (.tar.zst) to verify and import first")
	fl.StringVar(&f.install.bundleKey, "bundle-key", "", "public key (PEM) the bundle must be signed with")
	fl.StringSliceVar(&f.install.ignore, "ignore-preflight", nil, "skip these host checks, knowingly")
	fl.DurationVar(&f.install.timeout, "timeout", 30*time.Minute, "how long to wait for Flux to apply the desired state (the database recovery included)")
	fl.StringVar(&f.install.nameserver, "nameserver", "", "the DNS server (host:port) the last step asks for the domains")
	fl.StringArrayVar(&f.install.caFiles, "ca-file", nil, "a CA certificate (PEM) your users' browsers trust for the appliance, for the last step's TLS check (repeatable)")
	return cmd
}
