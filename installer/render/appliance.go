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

	// Each piece of wiring is rendered only when the train carries what serves it: objects of a
	// kind no operator of the train handles could never become ready (a train of stand-in
	// charts, as the install e2e test uses, gets only what its charts bring).
	has := func(chart string) bool { _, ok := v.Train.Chart(chart); return ok }
	docs, gateway := has("docs"), has("gateway-helm")
	if docs {
		if err := r.docsSecrets(cfg); err != nil {
			return nil, err
		}
	}
	var steps []func() error
	when := func(cond bool, step func() error) {
		if cond {
			steps = append(steps, step)
		}
	}
	when(gateway, func() error { return add(edgeComponent(v)) })
	// The operator's own certificate needs no cert-manager: its Secret is rendered either way.
	when(has("cert-manager") || cfg.TLS.Mode == config.TLSProvided, func() error { return add(r.tlsComponent(v)) })
	when(has("cloudnative-pg"), func() error { return add(r.databaseComponent(v)) })
	when(has("redis-operator"), func() error { return add(r.cacheComponent(v)) })
	when(docs, func() error { return add(r.bucketsComponent(v)) })
	when(docs && gateway, func() error { return add(docsEdgeComponent(v)) })
	when(docs && v.Branding.DocsEnabled(), func() error { return add(docsBrandingComponent(v)) })
	when(docs && cfg.Storage.Mode == config.Embedded, func() error { return add(r.objectStoreComponent(v)) })
	when(cfg.Identity.Mode == config.Embedded && has("keycloak-operator-crds"), func() error { return add(keycloakOperatorComponent(v)) })
	when(cfg.Identity.Mode == config.Embedded && has("keycloak-operator-crds"), func() error { return add(r.identityComponent(v)) })
	when(p.Components.Observability && has("kube-prometheus-stack"), func() error { return add(r.monitoringComponent(v)) })
	when(p.Components.Policy && has("kyverno"), func() error { return add(policyComponent(), nil) })
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
