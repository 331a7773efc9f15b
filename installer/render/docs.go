package render

import (
	"strings"
)

// Namespaces and names the appliance's components agree on.
const (
	docsNamespace = "docs"
	// docsFullname is the chart's fullnameOverride: Services are
	// docs-backend, docs-frontend, docs-y-provider.
	docsFullname = "docs"
	// docsSecret holds every secret the backend reads.
	docsSecret = "docs-backend"
	// yProviderSecret holds the collaboration server's secrets.
	yProviderSecret = "docs-y-provider"
)

// docsBackendSecretKeys maps each backend Secret key to the secret-store
// value it holds.
var docsBackendSecretKeys = map[string]string{
	"DJANGO_SECRET_KEY":                  "django.secretKey",
	"DJANGO_SUPERUSER_PASSWORD":          "django.superuserPassword",
	"DJANGO_SERVER_TO_SERVER_API_TOKENS": "django.serverToServerToken",
	"DB_PASSWORD":                        "postgres.docsPassword",
	"COLLABORATION_SERVER_SECRET":        "collaboration.secret",
	"Y_PROVIDER_API_KEY":                 "yprovider.apiKey",
	"OIDC_RP_CLIENT_SECRET":              "identity.clientSecret",
	"AWS_S3_ACCESS_KEY_ID":               "storage.accessKeyID",
	"AWS_S3_SECRET_ACCESS_KEY":           "storage.secretAccessKey",
}

func secretRef(name, key string) map[string]any {
	return map[string]any{"secretKeyRef": map[string]any{"name": name, "key": key}}
}

// docsValues configures the Docs chart: images pinned by the train,
// replicas and resources by the profile, every secret by reference.
func docsValues(v *valuesContext) (map[string]any, error) {
	backendRepo, backendTag, err := v.imageParts("lasuite/impress-backend")
	if err != nil {
		return nil, err
	}
	frontendRepo, frontendTag, err := v.imageParts("lasuite/impress-frontend")
	if err != nil {
		return nil, err
	}
	yRepo, yTag, err := v.imageParts("lasuite/impress-y-provider")
	if err != nil {
		return nil, err
	}
	cfg, p := v.Config, v.Profile
	origins := make([]string, 0, len(cfg.Hosts()))
	for _, h := range cfg.Hosts() {
		origins = append(origins, "https://"+h)
	}
	env := map[string]any{
		"DJANGO_CONFIGURATION":        "Production",
		"DJANGO_ALLOWED_HOSTS":        strings.Join(cfg.Hosts(), ","),
		"DJANGO_CSRF_TRUSTED_ORIGINS": strings.Join(origins, ","),
		"DJANGO_SUPERUSER_EMAIL":      cfg.AdminEmail,
		"OIDC_RP_CLIENT_ID":           cfg.Identity.ClientID,
		"OIDC_RP_SIGN_ALGO":           "RS256",
		"OIDC_RP_SCOPES":              cfg.Identity.Scopes,
		"AWS_S3_REGION_NAME":          cfg.Storage.Region,
		"AWS_STORAGE_BUCKET_NAME":     cfg.Storage.Bucket,
		"AWS_S3_SIGNATURE_VERSION":    "s3v4",
		// boto3 ≥ 1.36 checksums break CopyObject on most S3 servers (docs #1189).
		"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"MEDIA_BASE_URL":                   "https://" + cfg.Domain,
		"COLLABORATION_API_URL":            "https://" + cfg.Domain + "/collaboration/api/",
		"COLLABORATION_WS_URL":             "wss://" + cfg.Domain + "/collaboration/ws/",
		"Y_PROVIDER_API_BASE_URL":          "http://" + docsFullname + "-y-provider:443/api/",
	}
	for key := range docsBackendSecretKeys {
		env[key] = secretRef(docsSecret, key)
	}
	backend := p.Workload("docs-backend")
	celery := p.Workload("docs-celery")
	frontend := p.Workload("docs-frontend")
	yp := p.Workload("docs-y-provider")
	return map[string]any{
		"fullnameOverride": docsFullname,
		"image":            map[string]any{"repository": backendRepo, "tag": backendTag, "pullPolicy": "IfNotPresent"},
		"backend": map[string]any{
			"replicas":  backend.Replicas,
			"resources": backend.Resources(),
			"envVars":   env,
			"celery":    map[string]any{"replicas": celery.Replicas, "resources": celery.Resources()},
		},
		"frontend": map[string]any{
			"image":     map[string]any{"repository": frontendRepo, "tag": frontendTag, "pullPolicy": "IfNotPresent"},
			"replicas":  frontend.Replicas,
			"resources": frontend.Resources(),
		},
		"yProvider": map[string]any{
			"image":     map[string]any{"repository": yRepo, "tag": yTag, "pullPolicy": "IfNotPresent"},
			"replicas":  yp.Replicas,
			"resources": yp.Resources(),
			"envVars": map[string]any{
				"PORT":                           "4444",
				"COLLABORATION_SERVER_ORIGIN":    "https://" + cfg.Domain,
				"COLLABORATION_BACKEND_BASE_URL": "https://" + cfg.Domain,
				"COLLABORATION_SERVER_SECRET":    secretRef(yProviderSecret, "COLLABORATION_SERVER_SECRET"),
				"Y_PROVIDER_API_KEY":             secretRef(yProviderSecret, "Y_PROVIDER_API_KEY"),
			},
		},
	}, nil
}
