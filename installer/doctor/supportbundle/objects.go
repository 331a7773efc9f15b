package supportbundle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// namespacedKinds are the objects of each namespace put in, whole but for
// managedFields (Secrets never: their names and keys are in secrets.txt).
var namespacedKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Version: "v1", Resource: "configmaps"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Group: "batch", Version: "v1", Resource: "cronjobs"},
}

// fluxKinds are Flux's objects, in every namespace. GitRepository and
// Kustomization are the appliance's own; the others are put in when the
// cluster serves them.
var fluxKinds = []struct {
	gvr      schema.GroupVersionResource
	kind     string
	required bool
}{
	{schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}, "GitRepository", true},
	{schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}, "Kustomization", true},
	{schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "ocirepositories"}, "OCIRepository", false},
	{schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmrepositories"}, "HelmRepository", false},
	{schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmcharts"}, "HelmChart", false},
	{schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}, "HelmRelease", false},
	{schema.GroupVersionResource{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Resource: "alerts"}, "Alert", false},
	{schema.GroupVersionResource{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Resource: "providers"}, "Provider", false},
}

// maxConfigValue caps one value of a ConfigMap (dashboards run to
// megabytes and say nothing about a fault).
const maxConfigValue = 64 << 10

func (k *kubeCollector) collectObjects(ctx context.Context, ns string) {
	var docs []string
	for _, gvr := range namespacedKinds {
		list, err := k.c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			k.b.fail(fmt.Sprintf("the %s of %s", gvr.Resource, ns), err)
			continue
		}
		for i := range list.Items {
			o := &list.Items[i]
			if gvr.Resource == "configmaps" {
				if o.GetName() == "kube-root-ca.crt" {
					continue
				}
				capValues(o, k.b.r)
			}
			if doc, err := objectYAML(o); err == nil {
				docs = append(docs, doc)
			}
		}
	}
	k.b.add("namespaces/"+ns+"/objects.yaml", "the namespace's workloads, services, volumes claims and ConfigMaps", []byte(strings.Join(docs, "---\n")), "")
}

// capValues shortens a ConfigMap's long values, saying so in place. A
// value is redacted before it is cut, so a cut never splits a secret the
// redactor would then not recognise.
func capValues(o *unstructured.Unstructured, r *Redactor) {
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	for key, v := range data {
		if len(v) > maxConfigValue {
			red := string(r.Bytes([]byte(v)))
			if len(red) > maxConfigValue {
				data[key] = red[:maxConfigValue] + fmt.Sprintf("\n[support bundle: cut, %d of %d bytes kept]\n", maxConfigValue, len(red))
			} else {
				data[key] = red
			}
		}
	}
	if data != nil {
		_ = unstructured.SetNestedStringMap(o.Object, data, "data")
	}
	unstructured.RemoveNestedField(o.Object, "binaryData")
}

func objectYAML(o *unstructured.Unstructured) (string, error) {
	o.SetManagedFields(nil)
	data, err := yaml.Marshal(o.Object)
	return string(data), err
}

// collectFlux writes Flux's objects and, in flux/conditions.txt, one line
// per object and condition: what an operator reads first.
func (k *kubeCollector) collectFlux(ctx context.Context) {
	var lines []string
	for _, fk := range fluxKinds {
		list, err := k.c.Dynamic.Resource(fk.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if notServed(err) && !fk.required {
				continue
			}
			k.b.fail("Flux "+fk.kind+" objects", err)
			continue
		}
		var docs []string
		for i := range list.Items {
			o := &list.Items[i]
			lines = append(lines, fluxConditionLines(fk.kind, o)...)
			if doc, err := objectYAML(o); err == nil {
				docs = append(docs, doc)
			}
		}
		k.b.add("flux/"+fk.gvr.Resource+".yaml", "Flux "+fk.kind+" objects", []byte(strings.Join(docs, "---\n")), "")
	}
	sort.Strings(lines)
	k.b.add("flux/conditions.txt", "every Flux object's conditions, suspension and revisions", []byte(strings.Join(lines, "")), "")
}

func fluxConditionLines(kind string, o *unstructured.Unstructured) []string {
	id := fmt.Sprintf("%s %s/%s", kind, o.GetNamespace(), o.GetName())
	var out []string
	if s, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend"); s {
		out = append(out, id+"\tsuspended\n")
	}
	for _, f := range [][]string{{"status", "lastAppliedRevision"}, {"status", "lastAttemptedRevision"}, {"status", "artifact", "revision"}} {
		if v, ok, _ := unstructured.NestedString(o.Object, f...); ok && v != "" {
			out = append(out, fmt.Sprintf("%s\t%s %s\n", id, f[len(f)-1], v))
		}
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	if len(conds) == 0 {
		out = append(out, id+"\tno conditions yet\n")
	}
	for _, c := range conds {
		m, _ := c.(map[string]any)
		out = append(out, fmt.Sprintf("%s\t%v=%v\t%v\t%v\t%v\n", id, m["type"], m["status"], m["reason"], m["lastTransitionTime"], oneLine(fmt.Sprint(m["message"]))))
	}
	return out
}
