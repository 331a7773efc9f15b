package render

import (
	"strings"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// The rendered repository's layout: layers in order, one file per object,
// a kustomization.yaml per folder.

// layerIndex is a layer's position in the order layers are applied.
func layerIndex(l string) int {
	for i, n := range bundles.Layers {
		if n == l {
			return i
		}
	}
	return len(bundles.Layers)
}

// layerDependencies: operators need the CRDs and secrets; platform needs the
// operators; apps need the platform; observability and policy need the
// operators (their CRDs and webhooks) but never block the app.
func layerDependencies(name string, before []Layer) []string {
	have := map[string]bool{}
	for _, l := range before {
		have[l.Name] = true
	}
	var want []string
	switch name {
	case "operators":
		want = []string{"crds", "secrets"}
	case "platform":
		want = []string{"crds", "secrets", "operators"}
	case "apps":
		want = []string{"secrets", "platform", "operators"}
	default:
		want = []string{"crds", "secrets", "operators"}
	}
	var out []string
	for _, w := range want {
		if have[w] {
			out = append(out, w)
		}
	}
	return out
}

func relativeTo(from string, dirs []string) []string {
	up := strings.Repeat("../", strings.Count(from, "/")+1)
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = up + d
	}
	return out
}

func kustomizationFile(resources []string) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	if len(resources) == 0 {
		return []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
	}
	for _, r := range resources {
		b.WriteString("  - " + r + "\n")
	}
	return []byte(b.String())
}
