package gitops

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops/fluxbuild"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

//go:embed manifests
var embeddedManifests embed.FS

// Names the appliance and Flux agree on.
const (
	// FluxNamespace is where Flux runs, with the appliance's age key and source credentials.
	FluxNamespace = "flux-system"
	// FluxName names the GitRepository, the root Kustomization and the source Secret.
	FluxName = "flux-system"
	// SOPSSecret holds the age key Flux decrypts the secrets layer with (key AgeKeyField).
	SOPSSecret = "sops-age"
	// AgeKeyField must end in .agekey: kustomize-controller imports those keys.
	AgeKeyField = "age.agekey"
)

// TargetPath is the folder of the repository Flux applies for an environment
// (clusters/<env>); render writes the layer Kustomizations there and never touches its
// flux-system/ sub-folder. Appliances of other environments sharing the repository sync
// their own folders.
func TargetPath(env string) string { return render.ClusterDir(environment(env)) }

// environment is env, or the default environment of a config that names none.
func environment(env string) string {
	if env == "" {
		return config.DefaultEnvironment
	}
	return env
}

// FluxComponents are the controllers the appliance runs: no helm-controller (charts are rendered
// to plain YAML), no image automation.
var FluxComponents = fluxbuild.Components

// FluxManifestsMissingError says this build does not carry a Flux release's install manifests.
type FluxManifestsMissingError struct{ Version string }

func (e *FluxManifestsMissingError) Error() string {
	return fmt.Sprintf("this build carries no Flux %s install manifests (installer/gitops/manifests/%s/): "+
		"build the binary after `make flux-manifests` (or `make build`, which runs it)", e.Version, e.Version)
}

// FluxManifests returns the embedded install manifests of a Flux release.
func FluxManifests(version string) (fs.FS, error) {
	sub, err := fs.Sub(embeddedManifests, path.Join("manifests", version))
	if err != nil {
		return nil, err
	}
	for _, f := range manifestFiles() {
		if _, err := fs.Stat(sub, f); err != nil {
			return nil, &FluxManifestsMissingError{Version: version}
		}
	}
	return sub, nil
}

func manifestFiles() []string {
	var out []string
	for _, c := range FluxComponents {
		out = append(out, c+".yaml")
	}
	return append(out, fluxbuild.Files...)
}

// FluxProvenance says where the embedded manifests of a release came from (a substitute build is
// worth telling the operator about).
func FluxProvenance(version string) (*fluxbuild.Provenance, error) {
	fsys, err := FluxManifests(version)
	if err != nil {
		return nil, err
	}
	return fluxbuild.ReadProvenance(fsys)
}

// InstallOptions are the Flux install options of the appliance of an environment.
func InstallOptions(version, env string) install.Options {
	o := install.MakeDefaultOptions()
	o.Version = version
	o.Components = append([]string(nil), FluxComponents...)
	// The defaults list image automation and source-watcher: bootstrap would wait for
	// Deployments that are never installed.
	o.ComponentsExtra = nil
	o.TargetPath = TargetPath(env)
	o.Namespace = FluxNamespace
	o.NetworkPolicy = true
	o.Timeout = time.Minute
	return o
}

// writeManifestsBase copies a release's manifests into dir, the manifestsBase install.Generate
// templates over (it writes its own files beside them).
func writeManifestsBase(version, dir string) error {
	fsys, err := FluxManifests(version)
	if err != nil {
		return err
	}
	for _, f := range manifestFiles() {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("reading embedded %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f, err)
		}
	}
	return nil
}

// GenerateComponents renders gotk-components.yaml of a release from the embedded manifests, as
// bootstrap does, without downloading anything.
func GenerateComponents(version string) (*manifestgen.Manifest, error) {
	dir, err := os.MkdirTemp("", "flux-manifests-")
	if err != nil {
		return nil, fmt.Errorf("making a work folder: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := writeManifestsBase(version, dir); err != nil {
		return nil, err
	}
	// The components do not depend on the environment: only where bootstrap puts them does.
	m, err := install.Generate(InstallOptions(version, config.DefaultEnvironment), dir)
	if err != nil {
		return nil, fmt.Errorf("generating the Flux %s components: %w", version, err)
	}
	return m, nil
}

// IsFluxManifestsMissing reports whether err says the build lacks Flux manifests.
func IsFluxManifestsMissing(err error) bool {
	var m *FluxManifestsMissingError
	return errors.As(err, &m)
}
