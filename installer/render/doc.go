// Package render turns config + release train + profile into the
// desired-state repository, offline and without touching a host: every
// pinned chart rendered by the Helm SDK into plain YAML (CRDs apart, hooks
// as plain resources), the appliance's own manifests, Flux Kustomizations
// ordering the layers, and every Secret SOPS-encrypted.
//
// Render is a pure function returning files; Write puts them on disk,
// touching only files whose content changed and keeping an encrypted
// Secret as it is when its values did not change, so Git sees no churn.
package render
