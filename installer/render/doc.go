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
// Render is a pure function returning files; Write puts them on disk,
// touching only files whose content changed and keeping an encrypted
// Secret as it is when its values did not change, so Git sees no churn.
package render
