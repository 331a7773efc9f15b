package render

import "github.com/suitenumerique/docs-appliance/installer/config"

// The public paths a browser uses, for doctor's user-path checks: one
// source with what the render configures.
const (
	// DocsCallbackPath is Docs' OIDC redirect URI path (mozilla-django-oidc's
	// callback under /api/v1.0/), registered for every host.
	DocsCallbackPath = "/api/v1.0/callback/"
	// CollaborationWSPath is y-provider's websocket route.
	CollaborationWSPath = "/collaboration/ws/"
)

// PublicOIDC is the issuer Docs trusts and the authorization endpoint it
// sends browsers to (the embedded realm's under /auth on the main domain,
// or the external provider's).
func PublicOIDC(cfg *config.Config) (issuer, authorization string) {
	o := docsOIDC(cfg)
	return o.Issuer, o.Authorization
}

// ObjectStoreService is the embedded object store's Service (namespace,
// name, S3 port): doctor reaches it through a port-forward.
func ObjectStoreService() (namespace, name string, port int) {
	return nsObjectStore, objectStoreName, objectStorePort
}

// ApplianceCA is where the appliance CA's certificate is published
// (tls.mode appliance-ca): a ConfigMap, key ca.crt.
func ApplianceCA() (namespace, name string) { return caExportNamespace, caExport }
