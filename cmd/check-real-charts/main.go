// Command check-real-charts is the release gate (`make check-real-charts
// CHARTS=DIR`): it renders every variant of a train from the real charts in
// DIR and checks each against a real API server, the real sops CLI, its own
// references and the train's pins (package realcharts). It prints the table
// of variants × objects × rejections and exits 1 on any rejection, 2 when it
// cannot run (no charts, no envtest kit, no sops CLI).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/render/realcharts"
)

func main() {
	var o realcharts.Options
	var only string
	flag.StringVar(&o.ChartsDir, "charts", "", "folder of the train's charts as <name>-<version>.tgz (make charts fills bundles/charts)")
	flag.StringVar(&o.Train, "train", "", "train to check (default: the newest embedded)")
	flag.StringVar(&o.TrainFile, "train-file", "", "a train file beside the embedded ones")
	flag.StringVar(&o.Sops, "sops", os.Getenv("DOCS_APPLIANCE_SOPS"), "the sops CLI (make sops-cli builds it)")
	flag.StringVar(&only, "only", "", "comma-separated patterns of variants to check, e.g. 'single/*/embedded/*' (default: all)")
	flag.Parse()
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := realcharts.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check-real-charts:", err)
		os.Exit(2)
	}
	rep.WriteTable(os.Stdout)
	if n := rep.Rejected(); n > 0 {
		fmt.Fprintf(os.Stderr, "check-real-charts: %d rejections: the train does not pass the release gate\n", n)
		os.Exit(1)
	}
	fmt.Println("check-real-charts: every variant passes")
}
