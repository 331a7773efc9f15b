package render

// systemNamespaces exist on every cluster (or are Flux's, made by its
// bootstrap): the appliance never renders them.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "flux-system": true}

// privilegedNamespaces run workloads that need host access (node-exporter
// reads the host's /proc and /sys).
var privilegedNamespaces = map[string]bool{nsMonitoring: true}

// restrictedNamespaces run only the appliance's own pods, all built to
// the restricted level: enforce it there.
var restrictedNamespaces = map[string]bool{nsObjectStore: true}

// namespaceLabels enforce Pod Security: baseline everywhere (what every
// pinned chart allows), restricted where every pod is the appliance's own,
// restricted audited and warned elsewhere so drift shows up, privileged
// only where a component needs the host.
// ManagedByLabel and ManagedByValue mark what the appliance made, its namespaces first.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "docs-appliance"
)

func namespaceLabels(name string) map[string]string {
	enforce := "baseline"
	switch {
	case privilegedNamespaces[name]:
		enforce = "privileged"
	case restrictedNamespaces[name]:
		enforce = "restricted"
	}
	return map[string]string{
		ManagedByLabel:                       ManagedByValue,
		"pod-security.kubernetes.io/enforce": enforce,
		"pod-security.kubernetes.io/audit":   "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}
}

func namespaceObject(name string, labels map[string]string) Object {
	l := map[string]any{}
	for k, v := range namespaceLabels(name) {
		l[k] = v
	}
	for k, v := range labels {
		l[k] = v
	}
	return Object{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{
			"name":   name,
			"labels": l,
			// Deleting a namespace deletes its data: never let Flux prune one.
			"annotations": map[string]any{"kustomize.toolkit.fluxcd.io/prune": "disabled"},
		},
	}
}
