// Package render turns config + release train + profile into the
// desired-state repository, offline and without touching a host: every
// pinned chart rendered by the Helm SDK into plain YAML (CRDs apart, hooks
// as plain resources, delete hooks dropped), the appliance's own
// manifests, Flux Kustomizations ordering the layers, and every Secret
// SOPS-encrypted.
//
// It owns the platform's content: the values given to each upstream chart
// (values.go and one file per area) and the appliance's own objects —
// PostgreSQL with backups and a daily restore check (database.go), Redis
// (cache.go), the versioned object store and its buckets (objectstore.go),
// Keycloak and its realm (identity.go), the Gateway and certificates per
// TLS mode (edge.go, tls.go), what Docs needs beside its chart: routes,
// room stickiness (docs.go), the media proxy (docsproxy.go), what the
// chart cannot say — the first admin's password for its Job alone, server
// processes sized by the profile (docs_workloads.go) and trust of the
// appliance CA (trust.go) —, monitoring (observability.go, dashboards.go),
// policies (policy.go), and the optional branding of Docs and of the
// Keycloak login page (branding*.go).
//
// Every image a rendered object names, wherever it hides, must be one
// the train pins (images.go, unpinned.go): an air-gapped node can pull
// nothing else. Secrets are marshalled by a YAML encoder, so any value (a
// PEM chain, a whole configuration file) survives SOPS and the API server.
//
// # Environments: shared bases, one overlay per environment
//
// Appliances of several environments (config field environment, e.g.
// staging and production) can share one repository, each reconciling only
// its own path:
//
//	clusters/<env>/              Flux's sync path: one Flux Kustomization per layer
//	environments/<env>/<layer>/  what <env> applies in the layer (each Kustomization's path)
//	environments/<env>/secrets/  <env>'s Secrets, SOPS-encrypted for <env>'s key
//	base/<layer>/<component>/    the shared base
//
// What goes in base is computed, not chosen by layer: base is the render
// of a reference appliance of the same train (reference.go: the built-in
// defaults on .invalid names, profile single, which runs every optional
// component, placeholder secrets). It depends on the train and this binary
// alone, so every environment on that train computes the same bytes, and
// a render writes — and prunes — all of it: no environment owns it more
// than another. Choosing by layer (CRDs and operators in base) would be
// wrong in both directions here: which CRDs exist depends on the config
// (Keycloak's only with embedded identity, the monitoring stack's only
// with observability), operators carry profile-sized values, and a
// hand-kept list goes stale with every chart. Computed, an object is
// shared exactly when it is identical whatever the environment's config,
// and correctness never depends on the split: only how much is shared.
//
// How an environment differs is computed the same way, object by object
// against the base folder of the same component (overlay.go): an
// identical object is taken from the base; a different one is a JSON 6902
// patch (maps compared key by key, lists and scalars replaced whole, so a
// patch shows what the environment changes); one the base lacks is the
// environment's own file; one it does not have is removed from its build
// by a strategic-merge $patch: delete. A component none of whose objects
// the environment shares is entirely its own. Each overlay builds with
// kustomize's default, strictest load restrictions to exactly the objects
// the environment applies (overlay_test.go).
//
// A render of one environment writes base/, environments/<env>/,
// clusters/<env>/ (never its flux-system/, which bootstrap writes), the
// root README (the same for all) and its own creation rule in the shared
// .sops.yaml, merged rule by rule (sopsrules.go): it never modifies or
// deletes another environment's files, and pruning is limited to what it
// owns plus base. A base change is a change of every environment that
// builds on it — intended: that is what a shared base is for — so Write
// reports the base files it changed and the other environments present
// (WriteReport.Base, SharedWith), and the commit names them. Environments
// sharing a repository therefore move to a new train together. The layout
// before environments (clusters/appliance/, layers/, infrastructure/,
// apps/, secrets/) was the default environment's: its render removes it.
//
// Render is a pure function returning files; Write puts them on disk,
// touching only files whose content changed and keeping an encrypted
// Secret as it is when its values did not change, so Git sees no churn.
package render
