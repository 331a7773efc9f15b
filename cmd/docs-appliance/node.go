package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
)

func newNodeCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "List the cluster's servers and agents, make join tokens, remove a node"}
	var kubeconfig string
	root := func() host.Root { return host.Root(app.flags.root) }

	list := &cobra.Command{
		Use: "list", Short: "List the nodes, their roles and readiness, and embedded etcd's quorum", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l := installer.NewNodeList(app.hostStateDir(), kubeconfig, root())
			if err := l.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			return app.result(l.Result, l.Result.NodesText())
		},
	}

	token := &cobra.Command{Use: "token", Short: "Make, list and revoke the tokens new hosts join with"}
	var role, description, serverURL, trainFile string
	var ttl time.Duration
	var dryRun bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a join token and print it once, with the join command for the new host",
		Long: "An agent token is a k3s bootstrap token: it expires after --ttl and `node token revoke` makes\n" +
			"k3s refuse it. k3s joins servers only with the cluster's server token, which does not expire.\n" +
			"A server token on a first server still on SQLite first takes a backup set, then restarts k3s\n" +
			"with embedded etcd (cluster-init). Only the token's hash is kept, in the state folder.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := installer.NewNodeTokenCreate(app.hostStateDir(), kubeconfig, root(), k3s.Role(role), ttl)
			c.Description, c.ServerURL, c.DryRun = description, serverURL, dryRun
			if c.Role == k3s.RoleServer && k3s.DatastoreOf(root()) == k3s.SQLite {
				conv, err := installer.NewEtcdConversion(app.hostStateDir(), trainFile, kubeconfig, root(), host.ExecRunner{})
				if err != nil {
					return err
				}
				c.Convert = conv
			}
			err := c.Run(cmd.Context(), app.Status())
			return stepsResult(app, c.Result, err, func() string { return c.Result.Text() })
		},
	}
	create.Flags().StringVar(&role, "role", "", "what the new host becomes: server (control plane and etcd member) or agent (workloads only)")
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long an agent token lives (a minute to 7 days)")
	create.Flags().StringVar(&description, "description", "", "what the token is for (shown by node token list)")
	create.Flags().StringVar(&serverURL, "server-url", "", "the address new hosts reach this cluster at (default: this server's internal IP on 6443)")
	create.Flags().StringVar(&trainFile, "train-file", "", "the release train the appliance was installed with, when it is not one of this binary's")
	create.Flags().BoolVar(&dryRun, "dry-run", false, "show the steps, changing nothing")
	_ = create.MarkFlagRequired("role")

	tokenList := &cobra.Command{
		Use: "list", Short: "List the join tokens: agent tokens in the cluster, server tokens handed out", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l := installer.NewNodeList(app.hostStateDir(), kubeconfig, root())
			if err := l.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			return app.result(map[string]any{"tokens": l.Result.Tokens, "serverTokens": l.Result.ServerTokens}, l.Result.TokensText(time.Now()))
		},
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a join token: k3s refuses an agent token from then on", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := installer.NewNodeTokenRevoke(app.hostStateDir(), kubeconfig, root(), args[0])
			if err := r.Run(cmd.Context(), app.Status()); err != nil {
				return err
			}
			text := "join token " + args[0] + " revoked\n"
			if r.Note != "" {
				text += r.Note + "\n"
			}
			return app.result(map[string]any{"revoked": args[0], "note": r.Note}, text)
		},
	}
	token.AddCommand(create, tokenList, revoke)

	var force, removeDryRun, keepHost, abandonVolumes bool
	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Take a node out: cordon, drain, reset its host, remove its etcd member, delete it; refuses to leave etcd without quorum",
		Long: "A server whose removal leaves etcd without quorum is never removed. Removing a Ready server\n" +
			"that leaves the rest no fault tolerance (3 servers to 2) is refused unless --force: join its\n" +
			"replacement first. A server that is already lost may be removed: that is the first step of\n" +
			"replacing it. A Ready node's host is reset from a pod there (docs-appliance reset, by the\n" +
			"host's systemd: k3s and the appliance's files go, the volumes and the age key stay); a node\n" +
			"not Ready, or one removed with --keep-host, is yours to reset: run `docs-appliance reset` there.\n" +
			"A node whose disk alone holds volumes (a database instance, the embedded object store) is\n" +
			"refused, naming them, unless --abandon-volumes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := installer.NewNodeRemove(app.hostStateDir(), kubeconfig, root(), args[0])
			r.Force, r.DryRun, r.KeepHost, r.AbandonVolumes, r.Log = force, removeDryRun, keepHost, abandonVolumes, app.Err
			err := r.Run(cmd.Context(), app.Status())
			return stepsResult(app, r.Result, err, func() string { return r.Result.Text() })
		},
	}
	remove.Flags().BoolVar(&force, "force", false, "remove a Ready server even though the rest then tolerate no loss")
	remove.Flags().BoolVar(&removeDryRun, "dry-run", false, "check the guard and show the steps, changing nothing")
	remove.Flags().BoolVar(&abandonVolumes, "abandon-volumes", false, "remove the node even though volumes live on its disk alone: the pods using them then run nowhere (the data stays on that host)")
	remove.Flags().BoolVar(&keepHost, "keep-host", false, "leave the node's host alone (its k3s not the appliance's, or run from a host that is not a server): reset it yourself, or its kubelet registers it again")

	for _, c := range []*cobra.Command{list, create, tokenList, revoke, remove} {
		c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "the appliance runs on this existing cluster (as install --kubeconfig)")
	}
	cmd.AddCommand(list, token, remove, newSwapK3sCommand(app), newLeaveCommand(app))
	return cmd
}

// newSwapK3sCommand is what the swap pod of an upgrade's rollout runs on another node (hidden:
// upgrade runs it, not an operator).
func newSwapK3sCommand(app *App) *cobra.Command {
	var hostRoot, binary, sum string
	cmd := &cobra.Command{
		Use: "swap-k3s", Short: "Put a new k3s in place of the host's and restart it (run by upgrade's swap pods)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := &k3s.Swap{Root: host.Root(hostRoot), Runner: host.ExecRunner{Chroot: hostRoot}, Binary: binary, SHA256: sum}
			said, err := s.Run(cmd.Context())
			if err != nil {
				return err
			}
			app.Status().Info("%s", said)
			return nil
		},
	}
	cmd.Flags().StringVar(&hostRoot, "host-root", "/host", "where the host's / is mounted")
	cmd.Flags().StringVar(&binary, "binary", "", "the new k3s binary")
	cmd.Flags().StringVar(&sum, "sha256", "", "the new binary's pinned sha256")
	_ = cmd.MarkFlagRequired("binary")
	_ = cmd.MarkFlagRequired("sha256")
	return cmd
}

// newLeaveCommand is what the leave pod of `node remove` runs on the node leaving (hidden: node
// remove runs it, not an operator).
func newLeaveCommand(app *App) *cobra.Command {
	var hostRoot string
	cmd := &cobra.Command{
		Use: "leave", Short: "Hand this host's reset to its systemd (run by node remove's leave pod)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding this program: %w", err)
			}
			l := &k3s.Leave{Root: host.Root(hostRoot), Runner: host.ExecRunner{Chroot: hostRoot}, Self: self}
			said, err := l.Run(cmd.Context())
			if err != nil {
				return err
			}
			app.Status().Info("%s", said)
			return nil
		},
	}
	cmd.Flags().StringVar(&hostRoot, "host-root", "/host", "where the host's / is mounted")
	return cmd
}

// stepsResult writes a step command's result, also when a step failed (its outcomes say which).
func stepsResult[T any](app *App, res *T, err error, text func() string) error {
	if res == nil {
		return err
	}
	if err != nil {
		if werr := app.result(res, ""); werr != nil {
			return werr
		}
		return err
	}
	return app.result(res, text())
}
