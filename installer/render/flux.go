package render

import (
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// layerTimeouts bound how long Flux waits for a layer to become healthy:
// the platform starts databases, the apps run migrations.
var layerTimeouts = map[string]string{
	"crds": "5m0s", "secrets": "2m0s", "operators": "10m0s", "platform": "20m0s",
	"apps": "15m0s", "observability": "15m0s", "policy": "10m0s",
}

// fluxKustomization is the Flux Kustomization of one layer. Every layer
// prunes what left Git and waits for its objects to be ready, so dependsOn
// means "after it is healthy", not merely "after it was applied".
func fluxKustomization(l Layer, _ *config.Config) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n  namespace: flux-system\n", l.Name)
	b.WriteString("  labels:\n    app.kubernetes.io/managed-by: docs-appliance\n")
	b.WriteString("spec:\n  interval: 10m0s\n  retryInterval: 1m0s\n")
	timeout := layerTimeouts[l.Name]
	if timeout == "" {
		timeout = "10m0s"
	}
	fmt.Fprintf(&b, "  timeout: %s\n  path: ./%s\n  prune: true\n  wait: true\n", timeout, l.Path)
	b.WriteString("  sourceRef:\n    kind: GitRepository\n    name: flux-system\n")
	if len(l.DependsOn) > 0 {
		b.WriteString("  dependsOn:\n")
		for _, d := range l.DependsOn {
			fmt.Fprintf(&b, "    - name: %s\n", d)
		}
	}
	if l.Decrypt {
		b.WriteString("  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n")
	}
	return []byte(b.String())
}

// repoReadme explains the repository to whoever opens it.
func repoReadme(o Options, layers []Layer) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Desired state of %s\n\n", o.Config.Domain)
	fmt.Fprintf(&b, "Rendered by docs-appliance from release train %s (Docs %s), profile %s.\n", o.Train.Name, o.Train.Docs.Version, o.Profile.Name)
	b.WriteString("Flux applies this repository: a change here is a change on the appliance.\n")
	b.WriteString("Do not edit rendered files by hand; change the appliance's config and run\n`docs-appliance install` again, which renders and commits the difference.\n\n")
	b.WriteString("| Flux Kustomization | path | after |\n|---|---|---|\n")
	for _, l := range layers {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", l.Name, l.Path, strings.Join(l.DependsOn, ", "))
	}
	b.WriteString("\nSecrets under `secrets/` are SOPS-encrypted for the age keys in `.sops.yaml`;\n")
	b.WriteString("Flux decrypts them with the `flux-system/sops-age` key.\n")
	return []byte(b.String())
}
