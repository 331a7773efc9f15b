// Package fluxbuild assembles the Flux install manifests the binary embeds (installer/gitops
// manifests/<flux version>/), at build time only, and checks their shape.
//
// A Flux release publishes manifests.tar.gz: `kustomize build` of flux2's manifests/bases/<controller>
// (each pulling <controller>.crds.yaml and <controller>.deployment.yaml from the controller's own
// release), manifests/rbac and manifests/policies, as <controller>.yaml, rbac.yaml, policies.yaml.
// flux2's pkg/manifestgen/install templates over exactly those files. A connected release build
// takes the official tarball (FromTarball). Where GitHub cannot be reached, Assemble produces the
// same files from the Go modules at the versions flux2 pins: the controller's config/crd and
// config/manager built as its release workflow builds them, then flux2's base built over them.
// A controller version the module proxy refuses is built from a stated substitute whose API types
// are identical, its image tag kept at the pinned version; the provenance file records it.
//
// CheckShape compares assembled (or downloaded) manifests with what the flux2 module itself
// expects: the controller versions in its base kustomizations, the service accounts, labels and
// patches of each base, the RBAC and network policy objects, and the container argument positions
// install.Generate patches.
package fluxbuild
