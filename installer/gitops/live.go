package gitops

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// LiveKustomization is a Flux Kustomization as it is now, whatever
// revision it is at: what doctor reports on.
type LiveKustomization struct {
	Name, Path string
	Suspended  bool
	// Ready is Ready=True for the current generation.
	Ready              bool
	Reason, Message    string
	Applied, Attempted string
	DependsOn          []string
	Inventory          []cluster.Ref
	// Object is the Kustomization as read.
	Object *unstructured.Unstructured
}

// ListKustomizations reads every Kustomization of the flux-system namespace.
func ListKustomizations(ctx context.Context, c *cluster.Client) ([]LiveKustomization, error) {
	list, err := c.Dynamic.Resource(KustomizationGVR).Namespace(FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Flux Kustomizations: %w", err)
	}
	out := make([]LiveKustomization, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, liveKustomization(&list.Items[i]))
	}
	return out, nil
}

func liveKustomization(u *unstructured.Unstructured) LiveKustomization {
	k := LiveKustomization{Name: u.GetName(), Object: u}
	k.Path, _, _ = unstructured.NestedString(u.Object, "spec", "path")
	k.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	k.Applied, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	k.Attempted, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	for _, d := range deps {
		if m, ok := d.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				k.DependsOn = append(k.DependsOn, n)
			}
		}
	}
	ready, reason, message := readyCondition(u)
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	k.Ready = ready && observed == u.GetGeneration()
	k.Reason, k.Message = reason, message
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	for _, e := range entries {
		m, _ := e.(map[string]any)
		id, _ := m["id"].(string)
		v, _ := m["v"].(string)
		if ref, ok := inventoryRef(id, v); ok {
			k.Inventory = append(k.Inventory, ref)
		}
	}
	return k
}

func readyCondition(u *unstructured.Unstructured) (ready bool, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, ci := range conds {
		cond, _ := ci.(map[string]any)
		if cond["type"] == "Ready" {
			reason, _ = cond["reason"].(string)
			message, _ = cond["message"].(string)
			return cond["status"] == "True", reason, message
		}
	}
	return false, "", ""
}

// LiveSource is the appliance's GitRepository as it is now.
type LiveSource struct {
	URL, Branch     string
	Suspended       bool
	Ready           bool
	Reason, Message string
	// Revision is the artifact's ("main@sha1:…"): what Flux fetched last.
	Revision string
}

// ReadSource reads the flux-system GitRepository.
func ReadSource(ctx context.Context, c *cluster.Client) (LiveSource, error) {
	u, err := c.Dynamic.Resource(GitRepositoryGVR).Namespace(FluxNamespace).Get(ctx, FluxName, metav1.GetOptions{})
	if err != nil {
		return LiveSource{}, fmt.Errorf("reading GitRepository %s/%s: %w", FluxNamespace, FluxName, err)
	}
	var s LiveSource
	s.URL, _, _ = unstructured.NestedString(u.Object, "spec", "url")
	s.Branch, _, _ = unstructured.NestedString(u.Object, "spec", "ref", "branch")
	s.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	s.Revision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
	ready, reason, message := readyCondition(u)
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	s.Ready = ready && observed == u.GetGeneration()
	s.Reason, s.Message = reason, message
	return s, nil
}
