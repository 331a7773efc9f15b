package realcharts

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// object is one object an API server receives from the render, and the
// file of the repository it comes from.
type object struct {
	*unstructured.Unstructured
	file string
	// inConfigMap marks an object carried inside a ConfigMap for a script
	// to apply (the restore check's throwaway Cluster): it is checked only
	// when the API server serves its kind, since a controller's own
	// configuration file can look like an object too.
	inConfigMap bool
}

func (o object) id() string {
	if ns := o.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), ns, o.GetName())
	}
	return o.GetKind() + " " + o.GetName()
}

// renderedObjects reads every object of a rendered repository: all YAML
// but kustomize's own files, Secrets in their plain form, and the objects
// ConfigMaps carry. CRDs come apart, to be applied first.
func renderedObjects(res *render.Result) (crds, objs []object, err error) {
	// What the environment applies, not base files and the overlay's patches.
	files, err := res.Effective()
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		if !render.IsManifest(f.Path) {
			continue
		}
		decoded, err := cluster.DecodeObjects(f.Content)
		if err != nil {
			return nil, nil, fmt.Errorf("reading rendered file %s: %w", f.Path, err)
		}
		for _, u := range decoded {
			o := object{Unstructured: u, file: f.Path}
			if u.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o)
				continue
			}
			objs = append(objs, o)
			if u.GetKind() == "ConfigMap" && u.GetAPIVersion() == "v1" {
				objs = append(objs, carried(u, f.Path)...)
			}
		}
	}
	return crds, objs, nil
}

// carried are the Kubernetes objects a ConfigMap's values hold.
func carried(cm *unstructured.Unstructured, file string) []object {
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []object
	for _, k := range keys {
		if !strings.Contains(data[k], "apiVersion") || !strings.Contains(data[k], "kind") {
			continue
		}
		inner, err := cluster.DecodeObjects([]byte(data[k]))
		if err != nil {
			continue // text that is not a manifest (a script, a dashboard, a config file)
		}
		for _, u := range inner {
			if u.GetNamespace() == "" {
				u.SetNamespace(cm.GetNamespace())
			}
			out = append(out, object{Unstructured: u, file: file + " (data." + k + ")", inConfigMap: true})
		}
	}
	return out
}

// podSpecs finds the pod specs of a workload: a Pod's, the template of a
// Deployment, StatefulSet, DaemonSet, ReplicaSet or Job, a CronJob's job
// template's, with the path to each.
func podSpecs(o object) map[string]map[string]any {
	out := map[string]map[string]any{}
	try := func(path ...string) {
		if spec, ok, _ := unstructured.NestedMap(o.Object, path...); ok {
			if _, hasContainers := spec["containers"]; hasContainers {
				out[strings.Join(path, ".")] = spec
			}
		}
	}
	switch o.GetKind() {
	case "Pod":
		try("spec")
	case "CronJob":
		try("spec", "jobTemplate", "spec", "template", "spec")
	default:
		try("spec", "template", "spec")
	}
	return out
}

// list returns v as a list of maps, skipping anything else.
func list(v any) []map[string]any {
	items, _ := v.([]any)
	var out []map[string]any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
