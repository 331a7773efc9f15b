package render

import (
	"fmt"
	"sort"
	"strings"

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
	// secretsHash fingerprints the secret-store values a workload reads
	// from its Secrets at start (env), by workload: a pod annotation
	// carrying it rolls the pods when one is rotated, before the old value
	// stops working (a rotated database password, say).
	secretsHash map[string]string
	// Branding is the checked branding, nil without.
	Branding *config.BrandAssets
}

func (r *renderer) valuesContext() *valuesContext {
	v := &valuesContext{Config: r.opts.Config, Train: r.opts.Train, Profile: r.opts.Profile, secretsHash: map[string]string{}, Branding: r.opts.Branding}
	backend := []string{"redis.password", "smtp.password"}
	for _, name := range docsBackendSecretKeys {
		backend = append(backend, name)
	}
	v.secretsHash["docs-backend"] = r.fingerprint(backend)
	v.secretsHash["docs-y-provider"] = r.fingerprint([]string{"collaboration.secret", "yprovider.apiKey"})
	v.secretsHash["docs-superuser"] = r.fingerprint([]string{"django.superuserPassword"})
	return v
}

// fingerprint is a truncated SHA-256 over the named store values (absent
// ones count as empty). Of 190-bit random values it reveals nothing.
func (r *renderer) fingerprint(names []string) string {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		val, _ := r.opts.Secrets.Get(n)
		b.WriteString(n + "=" + val + "\n")
	}
	return shortHash(b.String())
}

// trainImage finds the train's image whose repository ends with repo.
func (v *valuesContext) trainImage(repo string) (bundles.Image, error) {
	im, ok := v.Train.ImageFor(repo)
	if !ok {
		return bundles.Image{}, fmt.Errorf("train %s pins no image %s: add it to the train's images", v.Train.Name, repo)
	}
	return im, nil
}

// image is the full pinned reference (registry/repository:tag@sha256:...)
// for manifests the appliance writes itself.
func (v *valuesContext) image(repo string) (string, error) {
	im, err := v.trainImage(repo)
	if err != nil {
		return "", err
	}
	return im.Pinned(), nil
}

// imageParts splits a train image into repository and a tag that pins the
// digest too ("v5.4.1@sha256:..."), the form charts that build
// "repository:tag" accept.
func (v *valuesContext) imageParts(repoSuffix string) (repository, tag string, err error) {
	im, err := v.trainImage(repoSuffix)
	if err != nil {
		return "", "", err
	}
	tag = im.Tag()
	if im.Digest != "" {
		tag += "@" + im.Digest
	}
	return im.Repository(), tag, nil
}

// imageValues is the {registry, repository, tag, digest} shape most
// upstream charts take (cert-manager, kyverno, blackbox-exporter, the
// barman plugin). digestKey names the chart's key for the digest ("digest"
// holding sha256:..., or "sha" holding only the hex, as the
// prometheus-community charts want); the digest is left out while the
// train is unlocked.
func (v *valuesContext) imageValues(repo string, split bool, digestKey string) (m, error) {
	im, err := v.trainImage(repo)
	if err != nil {
		return nil, err
	}
	out := m{"tag": im.Tag(), "pullPolicy": "IfNotPresent"}
	full := im.Repository()
	if split {
		registry, rest, _ := strings.Cut(full, "/")
		out["registry"], out["repository"] = registry, rest
	} else {
		out["repository"] = full
	}
	if im.Digest != "" {
		switch digestKey {
		case "sha":
			out["sha"] = strings.TrimPrefix(im.Digest, "sha256:")
		case "":
		default:
			out[digestKey] = im.Digest
		}
	}
	return out, nil
}

// chartNamespace is the namespace the train puts a chart in.
func (v *valuesContext) chartNamespace(chart, fallback string) string {
	if c, ok := v.Train.Chart(chart); ok {
		return c.NamespaceName()
	}
	return fallback
}

// observability reports whether the profile runs the monitoring stack.
func (v *valuesContext) observability() bool { return v.Profile.Components.Observability }

// valuesBuilders compute each known chart's values from the config and
// profile. A chart without a builder gets only the appliance facts under
// "appliance" (stand-in and fixture charts read them).
//
// The upstream charts cannot be fetched on the machine this code is built
// on, so these values are unit-tested as values (values_test.go) against
// each chart's documented keys at the train's version; the fixture charts
// in testdata show the render path they take.
var valuesBuilders = map[string]func(*valuesContext) (map[string]any, error){
	"docs":                         docsValues,
	"cert-manager":                 certManagerValues,
	"gateway-helm":                 envoyGatewayValues,
	"cloudnative-pg":               cloudnativePGValues,
	"plugin-barman-cloud":          barmanCloudValues,
	"redis-operator":               redisOperatorValues,
	"kube-prometheus-stack":        kubePrometheusStackValues,
	"prometheus-blackbox-exporter": blackboxExporterValues,
	"kyverno":                      kyvernoValues,
	// The Keycloak CRD chart is made of two plain CRD files: nothing to set.
	"keycloak-operator-crds": func(*valuesContext) (map[string]any, error) { return map[string]any{}, nil },
}

// postRenderers change a chart's rendered objects where its values
// cannot say what the appliance needs.
var postRenderers = map[string]func(*valuesContext, []Object) error{
	"docs": docsPostRender,
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
	facts := map[string]any{
		"domain":    v.Config.Domain,
		"hosts":     hosts,
		"train":     v.Train.Name,
		"profile":   v.Profile.Name,
		"namespace": c.NamespaceName(),
	}
	for k, val := range haFacts(v.Profile) {
		facts[k] = val
	}
	return facts
}

// knownAPIVersions are APIs the appliance's own manifests use, so charts
// that check Capabilities.APIVersions see them even before their CRDs land.
func knownAPIVersions(o Options) []string {
	var out []string
	if o.Profile.Components.Observability {
		out = append(out, "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor",
			"monitoring.coreos.com/v1/PrometheusRule", "monitoring.coreos.com/v1/Probe")
	}
	out = append(out, "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1/Gateway", "gateway.networking.k8s.io/v1/HTTPRoute",
		"cert-manager.io/v1", "cert-manager.io/v1/Certificate", "cert-manager.io/v1/Issuer", "cert-manager.io/v1/ClusterIssuer")
	return out
}
