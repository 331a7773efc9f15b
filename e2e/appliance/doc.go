// Package appliance is what an end-to-end test needs to install the appliance with the real
// binary onto the e2e node (build tag e2e): the docs-appliance binary built as `make build` makes
// it, the git server image assembled from this machine's Debian git, the stand-in application and
// the Flux controllers imported into the node and pinned by the digests containerd recorded, the
// git server's volume, and a locked train of stand-in charts written from e2e/testdata/install.
//
//	env := appliance.Setup(ctx, t, testNode)                     // binary, images, pins, git volume
//	pins := env.Import(ctx, t, []string{tar}, []string{"x.test/y:1"}) // more images, pinned
//	env.WriteTrain(t, trainPath, chartsDir, []appliance.Chart{...}, append(env.Pins, pins...))
//	out, err := env.Command(ctx, "--state-dir", state, "install", ...).CombinedOutput()
//
// For the upgrade test, trains of other names and places in the graph (WriteTrainAs with a Train
// head and Chart.Version), the stand-in re-tagged per version (StandinVersions), an availability
// prober inside the node's namespace (StartProber), and a command killed when a step starts
// (Signalled, StepStarted).
//
// e2e/install (the install test), e2e/cnpg (the appliance on a real CloudNativePG) and
// e2e/upgrade (upgrade and rollback along stand-in trains) use it.
package appliance
