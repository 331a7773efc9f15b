package render

import (
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// applianceComponents are the appliance's own manifests (not from a
// chart): the Secrets the charts reference, and the objects that wire Docs
// to its database, cache, storage, identity and edge, watch it and guard
// it. A component named like a chart's joins that chart's folder and layer
// (the Keycloak operator beside its CRDs, Docs' routes beside Docs).
func (r *renderer) applianceComponents(v *valuesContext) ([]*component, error) {
	cfg, p := v.Config, v.Profile
	var out []*component
	add := func(c *component, err error) error {
		if err != nil {
			return err
		}
		if c != nil {
			out = append(out, c)
		}
		return nil
	}

	if err := r.docsSecrets(cfg); err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return add(edgeComponent(v)) },
		func() error { return add(r.tlsComponent(v)) },
		func() error { return add(r.databaseComponent(v)) },
		func() error { return add(r.cacheComponent(v)) },
		func() error { return add(r.bucketsComponent(v)) },
		func() error { return add(docsEdgeComponent(v)) },
	}
	if cfg.Storage.Mode == config.Embedded {
		steps = append(steps, func() error { return add(r.objectStoreComponent(v)) })
	}
	if cfg.Identity.Mode == config.Embedded {
		steps = append(steps,
			func() error { return add(keycloakOperatorComponent(v)) },
			func() error { return add(r.identityComponent(v)) })
	}
	if p.Components.Observability {
		steps = append(steps, func() error { return add(r.monitoringComponent(v)) })
	}
	if p.Components.Policy {
		steps = append(steps, func() error { return add(policyComponent(), nil) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("rendering the appliance's own manifests: %w", err)
		}
	}
	for _, c := range out {
		r.needNamespace(c.Namespace)
		for _, o := range c.objects {
			r.needNamespace(o.Namespace())
		}
	}
	return out, nil
}

// builtinNamespaces exist in every cluster and are not the appliance's.
var builtinNamespaces = map[string]bool{"": true, "default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "flux-system": true}

// needNamespace makes sure a namespace the desired state uses is created
// (in the crds layer, before anything lands in it).
func (r *renderer) needNamespace(ns string) {
	if builtinNamespaces[ns] {
		return
	}
	if _, ok := r.namespaces[ns]; !ok {
		r.namespaces[ns] = namespaceLabels(ns)
	}
}
