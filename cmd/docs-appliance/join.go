package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
)

func newJoinCommand(app *App) *cobra.Command {
	j := &installer.JoinAction{}
	var role, tokenFile, bundleDir string
	cmd := &cobra.Command{
		Use:   "join URL (--token-file FILE | -)",
		Short: "Make this host a further server or agent of an appliance's cluster",
		Long: "Run on the new host, as root, the command `node token create` printed on a server. The token\n" +
			"comes from --token-file FILE or from standard input with -, never as an argument (every user\n" +
			"of the host sees a command line in ps, and it stays in the shell's history). It is written to\n" +
			"k3s's token file (0600) only.\n" +
			"The join preflight checks the ports between the nodes, the clocks against the server's and,\n" +
			"for a server, the disk etcd will write to (fdatasync p99 under 10 ms).",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := joinToken(args, tokenFile, app.In)
			if err != nil {
				return err
			}
			j.Server, j.Token, j.Role = strings.TrimSuffix(args[0], "/"), tok, k3s.Role(role)
			j.Root, j.Runner, j.StateDir = host.Root(app.flags.root), host.ExecRunner{}, app.hostStateDir()
			if bundleDir != "" {
				j.ArtifactsDir = bundleDir
			}
			err = j.Run(cmd.Context(), app.Status())
			return stepsResult(app, j.Result, err, func() string { return j.Result.Text() })
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "server or agent, as the token was made for")
	f.StringVar(&tokenFile, "token-file", "", "a file holding the join token (only root should read it)")
	f.StringVar(&j.Train, "train", "", "the cluster's release train (the join command names it)")
	f.StringVar(&j.TrainFile, "train-file", "", "the cluster's release train as a file, when it is not one of this binary's")
	f.StringSliceVar(&j.Domains, "domains", nil, "the appliance's public names, for a server's API certificate (the join command names them)")
	f.BoolVar(&j.Airgapped, "airgapped", false, "no internet: k3s comes from --bundle-dir")
	f.StringVar(&bundleDir, "bundle-dir", "", "an imported bundle folder of the cluster's train (docs-appliance airgap import)")
	f.StringVar(&j.NodeName, "node-name", "", "the node's name (the host name otherwise)")
	f.BoolVar(&j.DryRun, "dry-run", false, "show the steps, changing nothing")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// joinToken takes the token from exactly one place.
func joinToken(args []string, file string, stdin io.Reader) (string, error) {
	switch {
	case file != "" && len(args) == 2:
		return "", errors.New("join: give the token once: TOKEN or --token-file, not both")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading --token-file: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	case len(args) == 2 && args[1] == "-":
		data, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", fmt.Errorf("reading the token from standard input: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	case len(args) == 2:
		// Not echoed: the argument may be the token itself.
		return "", errors.New("join: the second argument may only be - (the token on standard input): a token given as an argument is seen by every user of the host (ps) and stays in the shell's history; write it to a file only root reads and give --token-file FILE, or pipe it in with -")
	}
	return "", errors.New("join: no token: give --token-file FILE, or - to read it from standard input")
}
