package main

import (
	"bytes"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

func newUpgradeCommand(app *App) *cobra.Command {
	p := &installer.UpgradePlan{}
	u := &installer.Upgrade{}
	var plan bool
	cmd := &cobra.Command{
		Use:   "upgrade [--to TRAIN] [--bundle FILE] [--backup-age D] [--dry-run] | upgrade --plan [--to TRAIN] [--diff]",
		Short: "Move the appliance along the release trains, one hop at a time, with a backup first and rollback when a hop fails; --plan shows the path and each hop's exact Git diff",
		Long: "upgrade runs per hop: gates (train locked, doctor, disk) → backup (backup now and restore-check now,\n" +
			"or --backup-age D to accept a set and a passing check younger than D) → images (the new train's on every\n" +
			"node, or --bundle verified and imported) → k3s (single server: pinned binary swapped, restarted, node\n" +
			"Ready; skipped with --kubeconfig or when unchanged) → flux (when its version changes) → render → commit\n" +
			"(one commit, `upgrade FROM → TO`) → converge → doctor → record (upgrades.json). A killed run, run again\n" +
			"with the same arguments, resumes the hop (upgrade-pending.json) and commits nothing twice. A hop that\n" +
			"fails after its push is reverted (a `rollback TO → FROM` commit) and Flux converges on the previous train,\n" +
			"unless the hop may have run a step that cannot be undone: then nothing is reverted and the message gives\n" +
			"the pre-upgrade backup set and the restore command. --dry-run prints every hop's steps.\n" +
			"Exit code 0 upgraded (or up to date), 5 the graph refuses the path, 3 a hop failed (rolled back, or\n" +
			"stopped after an irreversible step), 1 could not run (a gate failed before anything changed).\n\n" +
			"--plan is read-only and works offline: from the train the appliance runs (its saved config) to --to\n" +
			"(default: the newest train), every required stop, and per hop k3s, Flux, Docs, every chart and image\n" +
			"change, the desired state's change by component (--diff: the whole unified diff; encrypted files are\n" +
			"compared by their decrypted content and never shown), the disk the new images need, what cannot be\n" +
			"undone, and the gates now. Its exit code: 0 every gate passes, 4 a gate warns or was not checked, 3 a\n" +
			"gate fails, 5 the graph refuses the upgrade, 1 the plan could not be made.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if plan {
				p.IgnoreChecks = u.IgnoreChecks
				return runUpgradePlan(cmd, app, p)
			}
			u.StateDir, u.Root, u.Runner = app.hostStateDir(), host.Root(app.flags.root), host.ExecRunner{}
			u.To, u.TrainFiles, u.ChartsDir, u.Kubeconfig = p.To, p.TrainFiles, p.ChartsDir, p.Kubeconfig
			err := u.Run(cmd.Context(), app.Status())
			if u.Result != nil {
				if werr := app.result(u.Result, upgradeText(u.Result)); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&plan, "plan", false, "show the plan and change nothing")
	fs.StringVar(&p.To, "to", "", "the train to upgrade to (default: the newest train known)")
	fs.BoolVar(&p.Diff, "diff", false, "with --plan: print every hop's whole unified diff of the desired state")
	fs.StringArrayVar(&p.TrainFiles, "train-file", nil, "a release train given as a file, beside this binary's (repeatable)")
	fs.StringVar(&p.ChartsDir, "charts", "", "a folder of packaged charts, searched before the ones this binary carries")
	fs.StringVar(&p.Kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	fs.StringVar(&u.Bundle, "bundle", "", "the air-gap bundle (.tar.zst) of the hop's train, verified and imported before its images are used")
	fs.StringVar(&u.BundleKey, "bundle-key", "", "public key (PEM) the bundle must be signed with, instead of the release key built into this binary")
	fs.BoolVar(&u.BundleInsecureSkipVerify, strings.TrimPrefix(airgap.SkipVerifyFlag, "--"), false, "INSECURE: accept a bundle whose signature cannot be checked, on its integrity alone")
	fs.DurationVar(&u.BackupAge, "backup-age", 0, "accept the newest consistent backup set and the last passing restore check when both are younger than this (e.g. 6h), instead of taking a backup now")
	fs.DurationVar(&u.Timeout, "timeout", 30*time.Minute, "how long each hop waits for Flux to apply its train")
	fs.BoolVar(&u.DryRun, "dry-run", false, "print every hop's steps and change nothing")
	fs.StringArrayVar(&u.IgnoreChecks, "ignore-check", nil, "a doctor check whose failure the gate and the doctor step do not count, knowingly (still run and reported; repeatable)")
	fs.StringVar(&u.Nameserver, "nameserver", "", "the DNS server (host:port) doctor's user-path checks ask for the domains")
	fs.StringArrayVar(&u.CAFiles, "ca-file", nil, "a CA certificate (PEM) your users' browsers trust for the appliance, for doctor's TLS check (repeatable)")
	return cmd
}

func runUpgradePlan(cmd *cobra.Command, app *App, p *installer.UpgradePlan) error {
	p.StateDir, p.Root, p.Runner = app.hostStateDir(), host.Root(app.flags.root), host.ExecRunner{}
	if err := p.Run(cmd.Context(), app.Status()); err != nil {
		return err
	}
	var text bytes.Buffer
	if err := p.Plan.WriteText(&text); err != nil {
		return err
	}
	if err := app.result(p.Plan, text.String()); err != nil {
		return err
	}
	return p.Plan.Err()
}

// upgradeText is the result for a terminal (the status lines on stderr told the rest).
func upgradeText(r *installer.UpgradeResult) string {
	var b bytes.Buffer
	installer.WriteUpgradeText(&b, r)
	return b.String()
}
