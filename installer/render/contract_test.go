package render

import (
	"bytes"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// The application contract (shared reference docs-app.md): what Docs
// needs from the appliance, checked on the rendered objects of every
// combination.

// contractVar is one variable of the contract: secret ones must come from
// a Secret, fixed ones must have their value.
type contractVar struct {
	name   string
	secret bool
	value  string // "" when the value depends on the config
}

var backendContract = []contractVar{
	{"DJANGO_CONFIGURATION", false, "Production"},
	{"DJANGO_SECRET_KEY", true, ""},
	{"DJANGO_ALLOWED_HOSTS", false, ""},
	{"DJANGO_CSRF_TRUSTED_ORIGINS", false, ""},
	{"DJANGO_SERVER_TO_SERVER_API_TOKENS", true, ""},
	{"DJANGO_SUPERUSER_EMAIL", false, ""},
	{"DB_HOST", false, "postgres-rw.database.svc.cluster.local"},
	{"DB_PORT", false, "5432"},
	{"DB_NAME", false, "docs"},
	{"DB_USER", false, "docs"},
	{"DB_PASSWORD", true, ""},
	{"REDIS_URL", true, ""},
	{"DJANGO_CELERY_BROKER_URL", true, ""},
	{"CACHES_DEFAULT_KEY_PREFIX", false, ""},
	{"AWS_S3_ENDPOINT_URL", false, ""},
	{"AWS_S3_ACCESS_KEY_ID", true, ""},
	{"AWS_S3_SECRET_ACCESS_KEY", true, ""},
	{"AWS_S3_REGION_NAME", false, ""},
	{"AWS_STORAGE_BUCKET_NAME", false, ""},
	{"AWS_S3_SIGNATURE_VERSION", false, "s3v4"},
	{"AWS_REQUEST_CHECKSUM_CALCULATION", false, "when_required"},
	{"AWS_RESPONSE_CHECKSUM_VALIDATION", false, "when_required"},
	{"MEDIA_BASE_URL", false, ""},
	{"OIDC_OP_JWKS_ENDPOINT", false, ""},
	{"OIDC_OP_AUTHORIZATION_ENDPOINT", false, ""},
	{"OIDC_OP_TOKEN_ENDPOINT", false, ""},
	{"OIDC_OP_USER_ENDPOINT", false, ""},
	{"OIDC_OP_LOGOUT_ENDPOINT", false, ""},
	{"OIDC_OP_URL", false, ""},
	{"OIDC_RP_CLIENT_ID", false, ""},
	{"OIDC_RP_CLIENT_SECRET", true, ""},
	{"OIDC_RP_SIGN_ALGO", false, "RS256"},
	{"OIDC_RP_SCOPES", false, ""},
	{"OIDC_USERINFO_FULLNAME_FIELDS", false, ""},
	{"OIDC_USERINFO_SHORTNAME_FIELD", false, ""},
	{"LOGIN_REDIRECT_URL", false, ""},
	{"LOGIN_REDIRECT_URL_FAILURE", false, ""},
	{"LOGOUT_REDIRECT_URL", false, ""},
	{"OIDC_REDIRECT_ALLOWED_HOSTS", false, ""},
	{"COLLABORATION_SERVER_SECRET", true, ""},
	{"COLLABORATION_API_URL", false, ""},
	{"COLLABORATION_WS_URL", false, ""},
	{"Y_PROVIDER_API_BASE_URL", false, ""},
	{"Y_PROVIDER_API_KEY", true, ""},
}

var yProviderContract = []contractVar{
	{"COLLABORATION_BACKEND_BASE_URL", false, ""},
	{"COLLABORATION_SERVER_ORIGIN", false, ""},
	{"COLLABORATION_SERVER_SECRET", true, ""},
	{"Y_PROVIDER_API_KEY", true, ""},
	{"PORT", false, ""},
}

// containerEnv reads the env of a rendered Deployment's or Job's first container.
func containerEnv(t *testing.T, content []byte) map[string]map[string]any {
	t.Helper()
	var o map[string]any
	if err := yaml.Unmarshal(content, &o); err != nil {
		t.Fatal(err)
	}
	spec := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	c := spec["containers"].([]any)[0].(map[string]any)
	out := map[string]map[string]any{}
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		out[em["name"].(string)] = em
	}
	return out
}

// plainSecrets reads every rendered Secret (plain form) by namespace/name.
func plainSecrets(t *testing.T, res *Result) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, f := range res.Files {
		if !f.Secret {
			continue
		}
		var s struct {
			Metadata   struct{ Name, Namespace string }
			StringData map[string]string `json:"stringData"`
		}
		if err := yaml.Unmarshal(f.Content, &s); err != nil {
			t.Fatal(err)
		}
		out[s.Metadata.Namespace+"/"+s.Metadata.Name] = s.StringData
	}
	return out
}

func checkContract(t *testing.T, workload string, env map[string]map[string]any, vars []contractVar, secrets map[string]map[string]string) {
	t.Helper()
	for _, v := range vars {
		e, ok := env[v.name]
		if !ok {
			t.Errorf("%s: %s is not set", workload, v.name)
			continue
		}
		if !v.secret {
			val, ok := e["value"].(string)
			if !ok || val == "" {
				t.Errorf("%s: %s has no literal value: %v", workload, v.name, e)
			} else if v.value != "" && val != v.value {
				t.Errorf("%s: %s = %q, want %q", workload, v.name, val, v.value)
			}
			continue
		}
		if _, literal := e["value"]; literal {
			t.Errorf("%s: secret %s is a literal", workload, v.name)
			continue
		}
		ref, _ := e["valueFrom"].(map[string]any)["secretKeyRef"].(map[string]any)
		if ref == nil {
			t.Errorf("%s: secret %s is not a secretKeyRef: %v", workload, v.name, e)
			continue
		}
		data, ok := secrets[docsNamespace+"/"+ref["name"].(string)]
		if !ok {
			t.Errorf("%s: %s refers to Secret %s, which is not rendered (SOPS) in %s", workload, v.name, ref["name"], docsNamespace)
			continue
		}
		if data[ref["key"].(string)] == "" {
			t.Errorf("%s: %s refers to key %s of Secret %s, which is empty or missing", workload, v.name, ref["key"], ref["name"])
		}
	}
}

func TestDocsContractInEveryCombination(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			cfg := f.opts.Config
			res := f.render(t)
			files := fileMap(res)
			secrets := plainSecrets(t, res)
			store := f.opts.Secrets.(fixedSecrets)

			// The backend's env is shared by Celery and both Jobs.
			for _, w := range []string{"deployment-docs-backend", "deployment-docs-celery-worker", "job-docs-backend-migrate", "job-docs-backend-createsuperuser"} {
				checkContract(t, w, containerEnv(t, files["apps/docs/"+w+".yaml"].Content), backendContract, secrets)
			}
			yp := containerEnv(t, files["apps/docs/deployment-docs-y-provider.yaml"].Content)
			checkContract(t, "y-provider", yp, yProviderContract, secrets)
			env := containerEnv(t, files["apps/docs/deployment-docs-backend.yaml"].Content)
			val := func(n string) string { s, _ := env[n]["value"].(string); return s }

			// Values that depend on the config.
			host := "https://" + cfg.Domain
			for n, w := range map[string]string{
				"DJANGO_ALLOWED_HOSTS":    strings.Join(cfg.Hosts(), ","),
				"MEDIA_BASE_URL":          host,
				"COLLABORATION_WS_URL":    "wss://" + cfg.Domain + "/collaboration/ws/",
				"OIDC_RP_CLIENT_ID":       cfg.Identity.ClientID,
				"DJANGO_SUPERUSER_EMAIL":  cfg.AdminEmail,
				"AWS_STORAGE_BUCKET_NAME": cfg.Storage.Bucket,
			} {
				if got := val(n); got != w {
					t.Errorf("%s = %q, want %q", n, got, w)
				}
			}
			for _, h := range cfg.Hosts() {
				if !strings.Contains(val("DJANGO_CSRF_TRUSTED_ORIGINS"), "https://"+h) {
					t.Errorf("DJANGO_CSRF_TRUSTED_ORIGINS %q lacks https://%s", val("DJANGO_CSRF_TRUSTED_ORIGINS"), h)
				}
			}
			if cfg.Identity.Mode == config.External {
				ep := cfg.Identity.Endpoints
				for n, w := range map[string]string{
					"OIDC_OP_URL": cfg.Identity.Issuer, "OIDC_OP_AUTHORIZATION_ENDPOINT": ep.Authorization,
					"OIDC_OP_TOKEN_ENDPOINT": ep.Token, "OIDC_OP_USER_ENDPOINT": ep.Userinfo,
					"OIDC_OP_JWKS_ENDPOINT": ep.JWKS, "OIDC_OP_LOGOUT_ENDPOINT": ep.EndSession,
				} {
					if got := val(n); got != w {
						t.Errorf("%s = %q, want the discovered %q", n, got, w)
					}
				}
			} else {
				// Browser-facing endpoints on the public host, server-to-server ones inside.
				issuer := host + "/auth/realms/docs"
				for n, prefix := range map[string]string{
					"OIDC_OP_URL": issuer, "OIDC_OP_AUTHORIZATION_ENDPOINT": issuer + "/", "OIDC_OP_LOGOUT_ENDPOINT": issuer + "/",
					"OIDC_OP_TOKEN_ENDPOINT": "http://keycloak-service.keycloak.svc.cluster.local:8080/realms/docs/",
					"OIDC_OP_JWKS_ENDPOINT":  "http://keycloak-service.keycloak.svc.cluster.local:8080/realms/docs/",
					"OIDC_OP_USER_ENDPOINT":  "http://keycloak-service.keycloak.svc.cluster.local:8080/realms/docs/",
				} {
					if !strings.HasPrefix(val(n), prefix) {
						t.Errorf("%s = %q, want it under %q", n, val(n), prefix)
					}
				}
			}
			if cfg.Storage.Mode == config.External && val("AWS_S3_ENDPOINT_URL") != cfg.Storage.Endpoint {
				t.Errorf("AWS_S3_ENDPOINT_URL = %q, want the operator's %q", val("AWS_S3_ENDPOINT_URL"), cfg.Storage.Endpoint)
			}

			// The Secret holds the store's values, composed where the
			// contract wants a URL.
			backend := secrets["docs/docs-backend"]
			for key, name := range docsBackendSecretKeys {
				if backend[key] != store[name] {
					t.Errorf("docs-backend %s = %q, want the store's %s", key, backend[key], name)
				}
			}
			// Several servers: the replication's master, whichever pod that is.
			redisHost := "redis"
			if cb.profile == "ha" {
				redisHost = "redis-master"
			}
			if !strings.Contains(backend["REDIS_URL"], ":"+store["redis.password"]+"@"+redisHost+".cache.svc.cluster.local:6379/1") ||
				!strings.HasSuffix(backend["DJANGO_CELERY_BROKER_URL"], "@"+redisHost+".cache.svc.cluster.local:6379/0") {
				t.Errorf("Redis URLs: %q, %q", backend["REDIS_URL"], backend["DJANGO_CELERY_BROKER_URL"])
			}

			// #2541: y-provider reaches the backend through the proxy's
			// internal door, which says the request was HTTPS.
			ypBase, _ := yp["COLLABORATION_BACKEND_BASE_URL"]["value"].(string)
			if ypBase != "http://docs-proxy.docs.svc.cluster.local:8081" {
				t.Errorf("COLLABORATION_BACKEND_BASE_URL = %q", ypBase)
			}
			conf := string(files["apps/docs/configmap-docs-proxy.yaml"].Content)
			door := conf[strings.Index(conf, "listen 8081"):]
			for _, w := range []string{"proxy_set_header X-Forwarded-Proto https;", "proxy_set_header Host " + cfg.Domain + ";", "proxy_pass http://docs-backend.docs.svc.cluster.local;"} {
				if !strings.Contains(door, w) {
					t.Errorf("the proxy's backend door lacks %q", w)
				}
			}

			// Migrate and createsuperuser Jobs are replaced, never patched,
			// and stay once done (a vanished Job reruns at every reconciliation).
			job := string(files["apps/docs/job-docs-backend-migrate.yaml"].Content)
			if !strings.Contains(job, "kustomize.toolkit.fluxcd.io/force: enabled") || strings.Contains(job, "ttlSecondsAfterFinished") {
				t.Errorf("migrate Job not forced or still self-deleting:\n%s", job)
			}
		})
	}
}

// routeRules reads the rules of a rendered HTTPRoute as path → backend
// Service, with the rule's filters.
func routeRules(t *testing.T, content []byte) map[string]map[string]any {
	t.Helper()
	var o map[string]any
	if err := yaml.Unmarshal(content, &o); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, r := range o["spec"].(map[string]any)["rules"].([]any) {
		rm := r.(map[string]any)
		path := rm["matches"].([]any)[0].(map[string]any)["path"].(map[string]any)["value"].(string)
		out[path] = rm
	}
	return out
}

func TestRoutesOfTheContract(t *testing.T) {
	f := comboFixture(t, combos[2])
	files := fileMap(f.render(t))
	routes := routeRules(t, files["apps/docs/httproute-docs.yaml"].Content)
	for path, svc := range routeRules(t, files["apps/docs/httproute-docs-collaboration.yaml"].Content) {
		routes[path] = svc
	}
	wantBackend := map[string]string{
		"/": "docs-frontend", "/api": "docs-backend", "/external_api": "docs-backend", "/admin": "docs-backend",
		"/static": "docs-backend", "/media/": "docs-proxy",
		"/collaboration/ws/": "docs-y-provider", "/collaboration/api/": "docs-y-provider",
	}
	for path, svc := range wantBackend {
		r, ok := routes[path]
		if !ok {
			t.Errorf("no route for %s", path)
			continue
		}
		if got := r["backendRefs"].([]any)[0].(map[string]any)["name"]; got != svc {
			t.Errorf("%s goes to %v, want %s", path, got, svc)
		}
		// Every rule tells the backend the client used HTTPS.
		mod, _ := yaml.Marshal(r["filters"])
		if !bytes.Contains(mod, []byte("name: X-Forwarded-Proto")) || !bytes.Contains(mod, []byte("value: https")) {
			t.Errorf("%s does not set X-Forwarded-Proto: https: %s", path, mod)
		}
	}
	if len(routes) != len(wantBackend) {
		t.Errorf("routes %v, want exactly %v", keysOf(routes), wantBackend)
	}
	// Websockets live for hours: no request timeout on their rule.
	if got := routes["/collaboration/ws/"]["timeouts"].(map[string]any)["request"]; got != "0s" {
		t.Errorf("websocket request timeout = %v, want 0s", got)
	}
	// Rooms stick to one y-provider pod by the room query parameter.
	sticky := string(files["apps/docs/backendtrafficpolicy-docs-collaboration.yaml"].Content)
	for _, w := range []string{"type: ConsistentHash", "type: QueryParams", "name: room", "name: docs-collaboration", "kind: HTTPRoute"} {
		if !strings.Contains(sticky, w) {
			t.Errorf("BackendTrafficPolicy lacks %q:\n%s", w, sticky)
		}
	}
	// Both hosts are served.
	route := string(files["apps/docs/httproute-docs.yaml"].Content)
	if !strings.Contains(route, "- docs.example.org") || !strings.Contains(route, "- docs.example.com") {
		t.Errorf("the route does not serve every host:\n%s", route)
	}
}

func keysOf(mm map[string]map[string]any) []string {
	var out []string
	for k := range mm {
		out = append(out, k)
	}
	return out
}

func TestMediaProxyConfig(t *testing.T) {
	for _, tc := range []struct {
		sets           []string
		upstream, host string
	}{
		{nil, "proxy_pass http://objectstore.object-store.svc.cluster.local:7070/docs-media-storage/;", "proxy_set_header Host objectstore.object-store.svc.cluster.local:7070;"},
		{[]string{"storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.bucket=acme-docs"},
			"proxy_pass https://s3.example.org/acme-docs/;", "proxy_set_header Host s3.example.org;"},
	} {
		f := newFixture(t, "single-small", tc.sets...)
		conf := string(fileMap(f.render(t))["apps/docs/configmap-docs-proxy.yaml"].Content)
		media := conf[strings.Index(conf, "location /media/"):strings.Index(conf, "location = /media-auth")]
		auth := conf[strings.Index(conf, "location = /media-auth"):]
		for _, w := range []string{
			// The cookie is checked by the backend before anything is read.
			"auth_request /media-auth;",
			// The SigV4 headers of the answer go to S3.
			"auth_request_set $auth_header $upstream_http_authorization;",
			"auth_request_set $auth_date $upstream_http_x_amz_date;",
			"auth_request_set $auth_content_sha256 $upstream_http_x_amz_content_sha256;",
			"proxy_set_header Authorization $auth_header;",
			"proxy_set_header X-Amz-Date $auth_date;",
			"proxy_set_header X-Amz-Content-SHA256 $auth_content_sha256;",
			// Path style, and the Host the signature covers.
			tc.upstream, tc.host,
		} {
			if !strings.Contains(media, w) {
				t.Errorf("%v: /media lacks %q:\n%s", tc.sets, w, media)
			}
		}
		for _, w := range []string{
			"internal;",
			"proxy_pass http://docs-backend.docs.svc.cluster.local/api/v1.0/documents/media-auth/;",
			"proxy_set_header X-Original-URL $request_uri;",
			"proxy_set_header X-Forwarded-Proto https;",
			"proxy_set_header Host docs.example.org;",
			"proxy_pass_request_body off;",
		} {
			if !strings.Contains(auth, w) {
				t.Errorf("%v: /media-auth lacks %q:\n%s", tc.sets, w, auth)
			}
		}
		if strings.Contains(tc.upstream, "https") && !strings.Contains(media, "proxy_ssl_verify on;") {
			t.Error("TLS to an external S3 is not verified")
		}
	}
}

func TestRealmImport(t *testing.T) {
	f := comboFixture(t, combos[2])
	res := f.render(t)
	files := fileMap(res)
	var o struct {
		Spec struct {
			KeycloakCRName string                                  `json:"keycloakCRName"`
			Placeholders   map[string]map[string]map[string]string `json:"placeholders"`
			Realm          struct {
				Realm   string           `json:"realm"`
				Clients []map[string]any `json:"clients"`
				Users   []map[string]any `json:"users"`
			} `json:"realm"`
		} `json:"spec"`
	}
	content := files["infrastructure/identity/keycloakrealmimport-docs.yaml"].Content
	if err := yaml.Unmarshal(content, &o); err != nil {
		t.Fatal(err)
	}
	if o.Spec.KeycloakCRName != "keycloak" || o.Spec.Realm.Realm != "docs" || len(o.Spec.Realm.Clients) != 1 || len(o.Spec.Realm.Users) != 1 {
		t.Fatalf("realm import: %s", content)
	}
	client := o.Spec.Realm.Clients[0]
	redirects, _ := yaml.Marshal(client["redirectUris"])
	for _, w := range []string{"https://docs.example.org/api/v1.0/callback/", "https://docs.example.com/api/v1.0/callback/"} {
		if !bytes.Contains(redirects, []byte(w)) {
			t.Errorf("redirect URIs %s lack %s", redirects, w)
		}
	}
	if got := client["attributes"].(map[string]any)["post.logout.redirect.uris"]; got != "https://docs.example.org/api/v1.0/logout-callback/##https://docs.example.com/api/v1.0/logout-callback/" {
		t.Errorf("post-logout redirect URIs = %v", got)
	}
	// The client secret and the user's password are placeholders filled
	// from the SOPS Secret docs-realm, whose values are the store's.
	if client["secret"] != "${DOCS_CLIENT_SECRET}" || client["publicClient"] != false {
		t.Errorf("client secret = %v, public = %v", client["secret"], client["publicClient"])
	}
	user := o.Spec.Realm.Users[0]
	if user["email"] != "admin@example.org" || !strings.Contains(string(mustYAML(t, user["credentials"])), "${DOCS_ADMIN_PASSWORD}") {
		t.Errorf("first user = %v", user)
	}
	secrets := plainSecrets(t, res)
	store := f.opts.Secrets.(fixedSecrets)
	for ph, ref := range o.Spec.Placeholders {
		s := secrets["keycloak/"+ref["secret"]["name"]]
		if s == nil || s[ref["secret"]["key"]] == "" {
			t.Errorf("placeholder %s refers to %v, which is not a rendered Secret key", ph, ref)
		}
	}
	if secrets["keycloak/docs-realm"]["DOCS_CLIENT_SECRET"] != store["identity.clientSecret"] {
		t.Error("the realm's client secret is not Docs' OIDC_RP_CLIENT_SECRET")
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
