package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

func newPreflightCommand(app *App) *cobra.Command {
	req := &preflight.Request{}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check this host (or an existing cluster with --kubeconfig) before installing",
		Long: "Check this host before installing: CPU, memory, disk, ports, default route, clock, kernel features,\n" +
			"other runtimes, host name, address ranges and DNS, with the fix for each failure.\n" +
			"Exit code 0 when every check passed or only warned, 3 when a check failed, 1 when the checks could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Root, req.StateDir = app.flags.root, app.hostStateDir()
			rep, err := req.Run(cmd.Context())
			if err != nil {
				return err
			}
			// The report is the result even when a check failed: the exit code (3) says so.
			if err := app.result(rep, rep.Text()); err != nil {
				return err
			}
			return rep.Err()
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&req.ConfigPath, "config", "c", "", "appliance.yaml giving the profile, domains, train and air-gap")
	fs.StringVar(&req.Profile, "profile", "", "sizing profile whose thresholds apply: single-small (default), single or ha")
	fs.StringVar(&req.Train, "train", "", "release train (default: the newest in this binary)")
	fs.StringArrayVar(&req.Domains, "domain", nil, "domain that must resolve (repeatable)")
	fs.BoolVar(&req.Airgapped, "airgapped", false, "the site has no internet")
	fs.StringVar(&req.Bundle, "bundle", "", "air-gap bundle the install will import (its size sets the free disk needed)")
	fs.StringSliceVar(&req.Ignore, "ignore-preflight", nil, "skip these checks, knowingly: "+strings.Join(append(preflight.IDs(preflight.HostChecks()), preflight.IDs(preflight.ClusterChecks())...), ", "))
	fs.StringVar(&req.Kubeconfig, "kubeconfig", "", "check this existing cluster instead of the host")
	return cmd
}

// hostStateDir is the state folder as a host path, to be taken under --root by the libraries.
func (a *App) hostStateDir() string {
	if a.flags.stateDir != "" {
		return a.flags.stateDir
	}
	return config.DefaultStateDir()
}
