package cnpgkit

import (
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// Kit is a built CloudNativePG kit: image tarballs, manifests and the names the images carry.
type Kit struct {
	Dir string
	// OperatorImage, PostgresImage, PluginImage and SidecarImage are the images' names (the
	// train's), e.g. ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm.
	OperatorImage, PostgresImage, PluginImage, SidecarImage string
	// PostgresMajor is the PostgreSQL major version the image holds.
	PostgresMajor string
}

// Image tarballs and manifests of the kit (e2e/kit/build-cnpg.sh).
const (
	operatorTar      = "cloudnative-pg.tar"
	postgresTar      = "postgresql.tar"
	pluginTar        = "plugin-barman-cloud.tar"
	sidecarTar       = "plugin-barman-cloud-sidecar.tar"
	operatorManifest = "cnpg-operator.yaml"
	pluginManifest   = "plugin-barman-cloud.yaml"
)

// Find locates the kit; a *kit.MissingError says it is not built and how to build it.
func Find() (Kit, error) {
	v, err := kit.Load()
	if err != nil {
		return Kit{}, err
	}
	d, err := v.Dirs()
	if err != nil {
		return Kit{}, err
	}
	k := Kit{Dir: d.CNPG, OperatorImage: v.CNPG.OperatorImage, PostgresImage: v.CNPG.Postgres,
		PluginImage: v.CNPG.BarmanCloudImage, SidecarImage: v.CNPG.BarmanCloudSidecar, PostgresMajor: v.CNPG.PostgresMajor}
	if err := kit.CheckFiles("the CloudNativePG kit", "cnpg-kit", append(k.Images(), k.path(operatorManifest), k.path(pluginManifest))...); err != nil {
		return Kit{}, err
	}
	return k, nil
}

// Images are the kit's image tarballs, for node.ImportImages.
func (k Kit) Images() []string {
	return []string{k.path(operatorTar), k.path(postgresTar), k.path(pluginTar), k.path(sidecarTar)}
}

func (k Kit) path(name string) string { return filepath.Join(k.Dir, name) }
