package validate

import (
	"path/filepath"
	"testing"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sync"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// TestBootstrappedRepositoryValidatesClean: after Flux bootstrap the repository also holds
// Flux's components and sync under clusters/appliance/flux-system/ (generated here as
// bootstrap generates them). The root Kustomization then builds the layer Kustomizations and
// Flux itself, and the git server's hook, which is given no Flux manifests, learns Flux's CRDs
// from the repository.
func TestBootstrappedRepositoryValidatesClean(t *testing.T) {
	f := rendered(t)
	dir := f.mutable(t)
	comps, err := gitops.GenerateComponents(f.tr.Flux.Version)
	if err != nil {
		t.Fatal(err)
	}
	o := sync.MakeDefaultOptions()
	o.Name, o.Namespace, o.Secret = gitops.FluxName, gitops.FluxNamespace, gitops.FluxName
	o.URL, o.Branch, o.TargetPath = gitops.SyncURL(), "main", gitops.TargetPath("production")
	syncManifest, err := sync.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	fluxDir := filepath.Join(gitops.TargetPath("production"), gitops.FluxNamespace)
	write(t, dir, filepath.Join(fluxDir, "gotk-components.yaml"), comps.Content)
	write(t, dir, filepath.Join(fluxDir, "gotk-sync.yaml"), syncManifest.Content)
	write(t, dir, filepath.Join(fluxDir, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-components.yaml\n  - gotk-sync.yaml\n")

	hook := f.options()
	hook.FluxManifests, hook.Decrypt = nil, nil
	rep := validate(t, dir, hook)
	if err := rep.Err(); err != nil {
		t.Errorf("%v\n%s", err, rep.Text())
	}
	if len(rep.Kustomizations) != 7 {
		t.Errorf("the root Kustomization was not found: %v", rep.Kustomizations)
	}
}
