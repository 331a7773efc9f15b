package main

import (
	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
)

type validateFlags struct {
	train, trainFile string
}

func newValidateCommand(app *App) *cobra.Command {
	v := &installer.Validate{}
	f := &validateFlags{}
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a desired-state repository offline before Flux applies it: builds, schemas, secrets, images, policies",
		Long: "Validate builds every Flux Kustomization of the repository as kustomize-controller does and checks every\n" +
			"object: its kind's schema (Kubernetes and every CRD the repository and Flux carry), Secrets SOPS-encrypted\n" +
			"(and, with --age-key, decrypting), Jobs forced, dependsOn existing and acyclic, images pinned by digest\n" +
			"and in the train, the repository's Kyverno policies. DIR is a checkout or a render's --out; --repo URL\n" +
			"clones one instead. Exit code 0 when clean, 1 on any finding (each with its file, object and fix).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				v.Dir = args[0]
			}
			if f.train != "" || f.trainFile != "" {
				t, err := loadTrain(f.train, f.trainFile)
				if err != nil {
					return err
				}
				v.Train = t
			}
			if err := v.Run(cmd.Context()); err != nil {
				return err
			}
			// The report is the result even with findings: the exit code (1) says so.
			if err := app.result(v.Report, v.Report.Text()); err != nil {
				return err
			}
			return v.Report.Err()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&v.AgeKeyFile, "age-key", "", "age key file: every encrypted file must decrypt with it, and no secret value may sit in a plain file")
	fl.StringVar(&f.train, "train", "", "release train whose images may run (see `docs-appliance trains`); without it and --train-file, images are checked for digests only")
	fl.StringVar(&f.trainFile, "train-file", "", "release train YAML file, instead of --train")
	fl.StringVar(&v.RepoURL, "repo", "", "clone this repository (public, file:// or a local path) and validate it, instead of DIR")
	fl.StringVar(&v.Branch, "branch", "main", "branch of --repo")
	return cmd
}
