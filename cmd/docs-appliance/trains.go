package main

import (
	"github.com/spf13/cobra"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/bundles"
)

// newTrainsLockCommand fills a train file's digests (`make lock`).
func newTrainsLockCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "lock TRAIN_FILE",
		Short: "Look up every digest a train file leaves empty and write them into it, with each chart's appVersion (connected machine)",
		Long: "Lock resolves every image's digest, downloads every chart and k3s artifact for its sha256, and records\n" +
			"each chart's appVersion and subcharts from its archive. An image linked to a chart (chart: NAME or\n" +
			"NAME/SUBCHART) must be the release the chart ships, or say why in appVersionMismatch; lock refuses\n" +
			"the train otherwise, naming the image and the fix.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st := app.Status()
			res, err := airgap.LockFile(cmd.Context(), args[0], airgap.RemoteOptions{Status: st})
			if err != nil {
				return err
			}
			if len(res.Pinned) == 0 && len(res.Recorded) == 0 {
				st.Info("%s was already locked; every pin still matches its server and every chart its images", args[0])
			}
			for _, p := range res.Pinned {
				st.Info("pinned %s", p)
			}
			for _, r := range res.Recorded {
				st.Info("recorded %s", r)
			}
			return app.result(lockResult{File: args[0], Train: res.Train.Name, Pinned: nonNil(res.Pinned)}, "")
		},
	}
}

type fetchChartsFlags struct {
	out   string
	train string
}

// newTrainsFetchChartsCommand downloads the charts a release build embeds
// (`make charts`).
func newTrainsFetchChartsCommand(app *App) *cobra.Command {
	f := &fetchChartsFlags{}
	cmd := &cobra.Command{
		Use:   "fetch-charts --out DIR",
		Short: "Download and verify the charts of the embedded trains (connected machine)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := bundles.LoadEmbedded()
			if err != nil {
				return err
			}
			names := cat.Names()
			if f.train != "" {
				names = []string{f.train}
			}
			st := app.Status()
			doc := fetchedCharts{Out: f.out}
			for _, n := range names {
				t, err := cat.Get(n)
				if err != nil {
					return err
				}
				written, err := airgap.FetchCharts(cmd.Context(), t, f.out, airgap.RemoteOptions{Status: st})
				if err != nil {
					return err
				}
				st.Info("train %s: %d charts fetched into %s", n, len(written), f.out)
				doc.Trains = append(doc.Trains, fetchedTrain{Train: n, Charts: nonNil(written)})
			}
			return app.result(doc, "")
		},
	}
	cmd.Flags().StringVar(&f.out, "out", "bundles/charts", "folder the charts go to (the release build embeds bundles/charts)")
	cmd.Flags().StringVar(&f.train, "train", "", "only this train (default: every embedded train)")
	return cmd
}
