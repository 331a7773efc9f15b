package render

import (
	"fmt"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// valuesContext is what chart values are computed from. It holds no
// secret values: charts reference Secrets by name.
type valuesContext struct {
	Config  *config.Config
	Train   *bundles.Train
	Profile *profiles.Profile
}

func (r *renderer) valuesContext() *valuesContext {
	return &valuesContext{Config: r.opts.Config, Train: r.opts.Train, Profile: r.opts.Profile}
}

// imageParts splits a train image into repository and a tag that pins the
// digest too ("v5.4.1@sha256:..."), the form charts that build
// "repository:tag" accept.
func (v *valuesContext) imageParts(repoSuffix string) (repository, tag string, err error) {
	im, ok := v.Train.ImageFor(repoSuffix)
	if !ok {
		return "", "", fmt.Errorf("train %s pins no image %s", v.Train.Name, repoSuffix)
	}
	tag = im.Tag()
	if im.Digest != "" {
		tag += "@" + im.Digest
	}
	return im.Repository(), tag, nil
}

// valuesBuilders compute each known chart's values from the config and
// profile. A chart without a builder gets only the appliance facts under
// "appliance" (stand-in and fixture charts read them).
var valuesBuilders = map[string]func(*valuesContext) (map[string]any, error){
	"docs": docsValues,
}

func chartValues(v *valuesContext, c bundles.Chart) (map[string]any, error) {
	if b, ok := valuesBuilders[c.Name]; ok {
		return b(v)
	}
	return map[string]any{"appliance": applianceFacts(v, c)}, nil
}

// applianceFacts are the values every appliance-aware chart may read.
func applianceFacts(v *valuesContext, c bundles.Chart) map[string]any {
	hosts := make([]any, 0, len(v.Config.Hosts()))
	for _, h := range v.Config.Hosts() {
		hosts = append(hosts, h)
	}
	return map[string]any{
		"domain":    v.Config.Domain,
		"hosts":     hosts,
		"train":     v.Train.Name,
		"profile":   v.Profile.Name,
		"namespace": c.NamespaceName(),
	}
}

// knownAPIVersions are APIs the appliance's own manifests use, so charts
// that check Capabilities.APIVersions see them even before their CRDs land.
func knownAPIVersions(o Options) []string {
	var out []string
	if o.Profile.Components.Observability {
		out = append(out, "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule")
	}
	out = append(out, "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1/Gateway", "gateway.networking.k8s.io/v1/HTTPRoute")
	return out
}
