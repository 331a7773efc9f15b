// Command flux-manifests writes the Flux install manifests of every Flux release the embedded
// trains pin into installer/gitops/manifests/<version>/, for the binary to embed (`make
// flux-manifests`). By default it assembles them from the Go modules flux2 pins (see package
// fluxbuild); -tarball takes a release's official manifests.tar.gz instead (connected release
// builds). Either way the result is checked against the flux2 module's expectations.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/gitops/fluxbuild"
)

func main() {
	out := flag.String("out", "installer/gitops/manifests", "folder holding one sub-folder per Flux version")
	tarball := flag.String("tarball", "", "a Flux release's manifests.tar.gz to take instead of assembling (one version only)")
	version := flag.String("version", "", "only this Flux version (default: every version the embedded trains pin)")
	force := flag.Bool("force", false, "rebuild versions already present")
	flag.Parse()
	if err := run(context.Background(), *out, *tarball, *version, *force); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, tarball, only string, force bool) error {
	versions, err := trainFluxVersions()
	if err != nil {
		return err
	}
	if only != "" {
		versions = map[string]bundles.Flux{only: versions[only]}
	}
	if tarball != "" && len(versions) != 1 {
		return fmt.Errorf("-tarball holds one Flux release: name it with -version")
	}
	for v, pins := range versions {
		dir := filepath.Join(out, v)
		if _, err := os.Stat(filepath.Join(dir, fluxbuild.ProvenanceFile)); err == nil && !force {
			fmt.Printf("Flux %s: already in %s\n", v, dir)
			continue
		}
		flux2, err := fluxbuild.DownloadModule(ctx, "github.com/fluxcd/flux2/v2", v)
		if err != nil {
			return err
		}
		var prov *fluxbuild.Provenance
		if tarball != "" {
			prov, err = fluxbuild.FromTarball(tarball, v, flux2.Dir, dir)
		} else {
			prov, err = fluxbuild.Assemble(ctx, fluxbuild.Options{FluxVersion: v, Out: dir})
		}
		if err != nil {
			return fmt.Errorf("writing Flux %s manifests: %w", v, err)
		}
		if err := fluxbuild.CheckShape(os.DirFS(dir), flux2.Dir); err != nil {
			return fmt.Errorf("checking Flux %s manifests in %s: %w", v, dir, err)
		}
		for _, c := range prov.Controllers {
			if pins.Controllers != nil && pins.Controllers[c.Name] != c.Tag {
				return fmt.Errorf("Flux %s pins %s %s but a train says %s", v, c.Name, c.Tag, pins.Controllers[c.Name])
			}
			note := ""
			if c.Built != "" {
				note = fmt.Sprintf(" (built from %s: %s)", c.Built, c.Reason)
			}
			fmt.Printf("Flux %s: %s %s%s\n", v, c.Name, c.Tag, note)
		}
		fmt.Printf("Flux %s: %s, from %s\n", v, dir, prov.Source)
	}
	return nil
}

// trainFluxVersions are the Flux releases of the embedded trains.
func trainFluxVersions() (map[string]bundles.Flux, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, fmt.Errorf("loading the embedded trains: %w", err)
	}
	out := map[string]bundles.Flux{}
	for _, n := range cat.Names() {
		t, _ := cat.Get(n)
		out[t.Flux.Version] = t.Flux
	}
	return out, nil
}
