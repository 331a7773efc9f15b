package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// The platform, edge and app checks look at what Flux applied (the
// Kustomizations' inventories), not at a list of names of their own: a
// component the configuration does not have is skipped, and a component a
// new train adds is checked without a new check.

// inventory returns the objects Flux applied in the named layers (all
// layers when none is named) whose kind is one of kinds.
func inventory(ctx context.Context, e *Env, layers []string, kinds ...string) ([]cluster.Ref, error) {
	ks, err := gitops.ListKustomizations(ctx, e.Kube)
	if err != nil {
		return nil, err
	}
	var out []cluster.Ref
	for _, k := range ks {
		if len(layers) > 0 && !inLayers(k.Name, layers) {
			continue
		}
		for _, r := range k.Inventory {
			for _, kind := range kinds {
				group, name, _ := strings.Cut(kind, "/")
				if name == "" {
					group, name = "", kind
				}
				if r.Kind == name && (group == "" || strings.HasPrefix(r.APIVersion, group+"/")) {
					out = append(out, r)
				}
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].String() < out[b].String() })
	return out, nil
}

// inLayers: a Kustomization is named after its layer, with the
// environment in front when there is one ("staging-apps").
func inLayers(name string, layers []string) bool {
	for _, l := range layers {
		if name == l || strings.HasSuffix(name, "-"+l) {
			return true
		}
	}
	return false
}

// get reads one object of the inventory.
func get(ctx context.Context, c *cluster.Client, r cluster.Ref) (*unstructured.Unstructured, error) {
	gvk := r.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.Mapper.Reset()
		if m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("finding the API of %s: %w", r, err)
		}
	}
	ri := c.Dynamic.Resource(m.Resource)
	if r.Namespace != "" {
		return ri.Namespace(r.Namespace).Get(ctx, r.Name, getOptions)
	}
	return ri.Get(ctx, r.Name, getOptions)
}

// condition returns the status, reason and message of a condition.
func condition(u *unstructured.Unstructured, typ string) (status, reason, message string, found bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	return findCondition(conds, typ)
}

func findCondition(conds []any, typ string) (status, reason, message string, found bool) {
	for _, ci := range conds {
		c, _ := ci.(map[string]any)
		if c["type"] == typ {
			s, _ := c["status"].(string)
			r, _ := c["reason"].(string)
			m, _ := c["message"].(string)
			return s, r, m, true
		}
	}
	return "", "", "", false
}

// workloads checks the Deployments and StatefulSets of the layers: each
// Current (kstatus) and serving — a workload scaled to zero serves
// nobody even though it has nothing left to roll out. only filters them.
func workloads(ctx context.Context, e *Env, layers []string, only func(*unstructured.Unstructured) bool) (good, bad []string, err error) {
	refs, err := inventory(ctx, e, layers, "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet")
	if err != nil {
		return nil, nil, err
	}
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		if only != nil && !only(u) {
			continue
		}
		replicas, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if r.Kind != "DaemonSet" && found && replicas == 0 {
			bad = append(bad, r.Name+": scaled to 0")
			continue
		}
		st, err := e.Kube.Status(ctx, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		if st.Status != "Current" {
			bad = append(bad, fmt.Sprintf("%s: %s", r.Name, orText(st.Message, string(st.Status))))
			continue
		}
		good = append(good, r.Name)
	}
	return good, bad, nil
}

var getOptions = metav1.GetOptions{}
