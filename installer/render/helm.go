package render

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
)

// chartRender is what one chart produced.
type chartRender struct {
	crds    []Object
	objects []Object
}

// loadChart reads a packaged chart.
func loadChart(data []byte) (*chart.Chart, error) {
	c, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("loading chart archive: %w", err)
	}
	return c, nil
}

// chartCRDs returns the CRDs of a chart's crds/ folder (not templated).
func chartCRDs(c *chart.Chart) ([]Object, error) {
	var out []Object
	for _, f := range c.CRDObjects() {
		objs, err := ParseObjects(f.File.Data)
		if err != nil {
			return nil, fmt.Errorf("reading CRD file %s: %w", f.Filename, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// helmTemplate renders a chart as `helm template` does, client-side only:
// no cluster is contacted. Hooks become plain objects (Flux applies them
// like any other; test hooks are dropped).
func helmTemplate(ctx context.Context, c *chart.Chart, releaseName, namespace string, values map[string]any, kubeVersion string, apiVersions []string) (*chartRender, error) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("parsing Kubernetes version %q: %w", kubeVersion, err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.Replace = true
	inst.IncludeCRDs = false
	inst.ReleaseName = releaseName
	inst.Namespace = namespace
	inst.KubeVersion = kv
	inst.APIVersions = chartutil.VersionSet(apiVersions)
	inst.DisableOpenAPIValidation = true
	rel, err := inst.RunWithContext(ctx, c, values)
	if err != nil {
		return nil, fmt.Errorf("rendering templates: %w", err)
	}
	out := &chartRender{}
	crds, err := chartCRDs(c)
	if err != nil {
		return nil, err
	}
	out.crds = crds
	objs, err := ParseObjects([]byte(rel.Manifest))
	if err != nil {
		return nil, err
	}
	for _, h := range rel.Hooks {
		if isTestHook(h) || isDeleteHook(h) {
			continue
		}
		hobjs, err := ParseObjects([]byte(h.Manifest))
		if err != nil {
			return nil, fmt.Errorf("parsing hook %s: %w", h.Name, err)
		}
		objs = append(objs, hobjs...)
	}
	for _, o := range objs {
		if o.Kind() == "CustomResourceDefinition" {
			out.crds = append(out.crds, o)
		} else {
			out.objects = append(out.objects, o)
		}
	}
	return out, nil
}

func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return strings.Contains(h.Path, "/tests/")
}

// isDeleteHook reports a hook that runs only when a release is deleted:
// as a plain object it would run at install (Kyverno's webhook cleanup
// deletes its own webhooks), so it is dropped. Removing a component is a
// Git change Flux prunes, not a helm uninstall.
func isDeleteHook(h *release.Hook) bool {
	if len(h.Events) == 0 {
		return false
	}
	for _, e := range h.Events {
		if e != release.HookPreDelete && e != release.HookPostDelete {
			return false
		}
	}
	return true
}
