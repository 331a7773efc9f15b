package render

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Namespaces and names the appliance's components agree on.
const (
	docsNamespace = "docs"
	// docsFullname is the chart's fullnameOverride: Services are
	// docs-backend (80), docs-frontend (80), docs-y-provider (443, plain HTTP).
	docsFullname = "docs"
	// docsSecret holds every secret the backend reads.
	docsSecret = "docs-backend"
	// yProviderSecret holds the collaboration server's secrets.
	yProviderSecret = "docs-y-provider"
	// docsProxy is the small nginx in front of media and behind y-provider.
	docsProxy = "docs-proxy"
	// docsProxy ports: public media (through the Gateway) and the internal
	// door to the backend for y-provider.
	proxyMediaPort   = 8080
	proxyBackendPort = 8081
	// Database and cache names Docs uses.
	docsDatabase = "docs"
	docsDBUser   = "docs"
)

// Redis databases: Celery's queue apart from the cache and sessions, so
// flushing one never touches the other.
const (
	redisBrokerDB = 0
	redisCacheDB  = 1
)

// docsBackendSecretKeys maps each backend Secret key holding a plain
// secret-store value to that value's name. REDIS_URL and
// DJANGO_CELERY_BROKER_URL are composed (they embed the Redis password)
// and added by docsSecrets.
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

// docsComposedSecretKeys are backend Secret keys whose value embeds a
// secret (a password in a URL).
var docsComposedSecretKeys = []string{"REDIS_URL", "DJANGO_CELERY_BROKER_URL"}

func secretRef(name, key string) map[string]any {
	return map[string]any{"secretKeyRef": map[string]any{"name": name, "key": key}}
}

// redisURL is the URL of one Redis database, with the password.
func redisURL(password string, db int) string {
	u := url.URL{
		Scheme: "redis",
		User:   url.UserPassword("", password),
		Host:   fmt.Sprintf("%s:%d", svcHost(redisName, nsCache), 6379),
		Path:   "/" + strconv.Itoa(db),
	}
	return u.String()
}

// s3Endpoint is the S3 endpoint Docs and the media proxy talk to.
func s3Endpoint(cfg *config.Config) string {
	if cfg.Storage.Mode == config.External {
		return strings.TrimSuffix(cfg.Storage.Endpoint, "/")
	}
	return fmt.Sprintf("http://%s:%d", svcHost(objectStoreName, nsObjectStore), objectStorePort)
}

// oidcEndpoints are the five endpoints Docs calls, plus the issuer.
type oidcEndpoints struct {
	Issuer, Authorization, Token, Userinfo, JWKS, Logout string
}

// docsOIDC: an external provider's endpoints as its discovery document
// states them; for the embedded Keycloak the browser-facing ones on the
// public URL and the server-to-server ones on the cluster Service.
func docsOIDC(cfg *config.Config) oidcEndpoints {
	if cfg.Identity.Mode == config.External {
		ep := cfg.Identity.Endpoints
		return oidcEndpoints{
			Issuer: cfg.Identity.Issuer, Authorization: ep.Authorization, Token: ep.Token,
			Userinfo: ep.Userinfo, JWKS: ep.JWKS, Logout: ep.EndSession,
		}
	}
	pub, in := keycloakIssuer(cfg.Domain)+"/protocol/openid-connect", keycloakInternal()+"/protocol/openid-connect"
	return oidcEndpoints{
		Issuer:        keycloakIssuer(cfg.Domain),
		Authorization: pub + "/auth",
		Logout:        pub + "/logout",
		Token:         in + "/token",
		Userinfo:      in + "/userinfo",
		JWKS:          in + "/certs",
	}
}

// docsEnv is every variable of the backend (shared by the web pods,
// Celery and the migrate and createsuperuser Jobs), per the application
// contract: secrets as references to the docs-backend Secret.
func docsEnv(cfg *config.Config) map[string]any {
	origins := make([]string, 0, len(cfg.Hosts()))
	for _, h := range cfg.Hosts() {
		origins = append(origins, "https://"+h)
	}
	public := "https://" + cfg.Domain
	oidc := docsOIDC(cfg)
	env := map[string]any{
		// Docs defaults to Development (DEBUG, no secure cookies).
		"DJANGO_CONFIGURATION":        "Production",
		"DJANGO_ALLOWED_HOSTS":        strings.Join(cfg.Hosts(), ","),
		"DJANGO_CSRF_TRUSTED_ORIGINS": strings.Join(origins, ","),
		"DJANGO_SUPERUSER_EMAIL":      cfg.AdminEmail,

		"DB_HOST": svcHost(postgresCluster+"-rw", nsDatabase),
		"DB_PORT": "5432",
		"DB_NAME": docsDatabase,
		"DB_USER": docsDBUser,

		"CACHES_DEFAULT_KEY_PREFIX": "docs",

		"AWS_S3_ENDPOINT_URL":      s3Endpoint(cfg),
		"AWS_S3_REGION_NAME":       cfg.Storage.Region,
		"AWS_STORAGE_BUCKET_NAME":  cfg.Storage.Bucket,
		"AWS_S3_SIGNATURE_VERSION": "s3v4",
		// boto3 ≥ 1.36 checksums break CopyObject on most S3 servers (docs #1189).
		"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"MEDIA_BASE_URL":                   public,

		"OIDC_OP_URL":                    oidc.Issuer,
		"OIDC_OP_AUTHORIZATION_ENDPOINT": oidc.Authorization,
		"OIDC_OP_TOKEN_ENDPOINT":         oidc.Token,
		"OIDC_OP_USER_ENDPOINT":          oidc.Userinfo,
		"OIDC_OP_JWKS_ENDPOINT":          oidc.JWKS,
		"OIDC_RP_CLIENT_ID":              cfg.Identity.ClientID,
		"OIDC_RP_SIGN_ALGO":              "RS256",
		"OIDC_RP_SCOPES":                 cfg.Identity.Scopes,
		"OIDC_REDIRECT_ALLOWED_HOSTS":    strings.Join(origins, ","),
		"LOGIN_REDIRECT_URL":             public,
		"LOGIN_REDIRECT_URL_FAILURE":     public,
		"LOGOUT_REDIRECT_URL":            public,

		"COLLABORATION_API_URL":   public + "/collaboration/api/",
		"COLLABORATION_WS_URL":    "wss://" + cfg.Domain + "/collaboration/ws/",
		"Y_PROVIDER_API_BASE_URL": fmt.Sprintf("http://%s-y-provider:443/api/", docsFullname),
	}
	// A provider without end_session_endpoint: Docs then ends only its own
	// session, which is all that provider allows.
	if oidc.Logout != "" {
		env["OIDC_OP_LOGOUT_ENDPOINT"] = oidc.Logout
	}
	if cfg.SMTP.Enabled() {
		env["DJANGO_EMAIL_HOST"] = cfg.SMTP.Host
		env["DJANGO_EMAIL_PORT"] = strconv.Itoa(cfg.SMTP.Port)
		env["DJANGO_EMAIL_FROM"] = cfg.SMTP.From
		env["DJANGO_EMAIL_USE_TLS"] = pyBool(cfg.SMTP.Security == config.SMTPStartTLS)
		env["DJANGO_EMAIL_USE_SSL"] = pyBool(cfg.SMTP.Security == config.SMTPTLS)
		env["DJANGO_EMAIL_URL_APP"] = public
		if cfg.SMTP.Username != "" {
			env["DJANGO_EMAIL_HOST_USER"] = cfg.SMTP.Username
			env["DJANGO_EMAIL_HOST_PASSWORD"] = secretRef(docsSecret, "DJANGO_EMAIL_HOST_PASSWORD")
		}
	}
	for key := range docsBackendSecretKeys {
		env[key] = secretRef(docsSecret, key)
	}
	for _, key := range docsComposedSecretKeys {
		env[key] = secretRef(docsSecret, key)
	}
	return env
}

// pyBool is how django-configurations' BooleanValue reads true and false.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
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
	backend := p.Workload("docs-backend")
	celery := p.Workload("docs-celery")
	frontend := p.Workload("docs-frontend")
	yp := p.Workload("docs-y-provider")
	s3 := s3Endpoint(cfg)
	s3URL, err := url.Parse(s3)
	if err != nil {
		return nil, fmt.Errorf("parsing the S3 endpoint %q: %w", s3, err)
	}
	s3Port := 443
	if s3URL.Port() != "" {
		s3Port, _ = strconv.Atoi(s3URL.Port())
	} else if s3URL.Scheme == "http" {
		s3Port = 80
	}
	// Docs reads its secrets from env at start: a rotated one must roll the pods.
	backendAnnotations := map[string]any{"docs-appliance/secrets-hash": v.secretsHash["docs-backend"]}
	return map[string]any{
		"fullnameOverride": docsFullname,
		"image":            map[string]any{"repository": backendRepo, "tag": backendTag, "pullPolicy": "IfNotPresent"},
		"backend": map[string]any{
			"replicas":       backend.Replicas,
			"resources":      backend.Resources(),
			"envVars":        docsEnv(cfg),
			"podAnnotations": backendAnnotations,
			"celery": map[string]any{
				"replicas": celery.Replicas, "resources": celery.Resources(),
				"podAnnotations": backendAnnotations,
			},
			// One PDB per workload only when there is more than one pod: a
			// PDB over a single pod blocks every node drain.
			"pdb": map[string]any{"enabled": backend.Replicas > 1},
			// Jobs stay until replaced: a Job that vanished would be
			// recreated, and rerun, at every Flux reconciliation.
			"jobs": map[string]any{"backoffLimit": 6},
		},
		"frontend": map[string]any{
			"image":     map[string]any{"repository": frontendRepo, "tag": frontendTag, "pullPolicy": "IfNotPresent"},
			"replicas":  frontend.Replicas,
			"resources": frontend.Resources(),
			"pdb":       map[string]any{"enabled": frontend.Replicas > 1},
			// The chart ships the frontend without probes.
			"probes": map[string]any{
				"liveness":  map[string]any{"path": "/", "targetPort": 8080, "initialDelaySeconds": 5},
				"readiness": map[string]any{"path": "/", "targetPort": 8080, "initialDelaySeconds": 5},
			},
		},
		"yProvider": map[string]any{
			"image":          map[string]any{"repository": yRepo, "tag": yTag, "pullPolicy": "IfNotPresent"},
			"podAnnotations": map[string]any{"docs-appliance/secrets-hash": v.secretsHash["docs-y-provider"]},
			"replicas":       yp.Replicas,
			"resources":      yp.Resources(),
			"pdb":            map[string]any{"enabled": yp.Replicas > 1},
			"envVars": map[string]any{
				"PORT":                        "4444",
				"COLLABORATION_SERVER_ORIGIN": "https://" + cfg.Domain,
				// #2541: y-provider → backend over plain HTTP gets a 301 from
				// SECURE_SSL_REDIRECT. The proxy's internal door adds
				// X-Forwarded-Proto: https and the public Host, without a
				// hairpin through the Gateway (whose certificate pods may not
				// trust: appliance CA).
				"COLLABORATION_BACKEND_BASE_URL": fmt.Sprintf("http://%s:%d", svcHost(docsProxy, docsNamespace), proxyBackendPort),
				"COLLABORATION_SERVER_SECRET":    secretRef(yProviderSecret, "COLLABORATION_SERVER_SECRET"),
				"Y_PROVIDER_API_KEY":             secretRef(yProviderSecret, "Y_PROVIDER_API_KEY"),
			},
		},
		// The chart's ExternalName Service for media; the appliance's own
		// proxy serves /media, but keep the Service truthful.
		"serviceMedia": map[string]any{"host": s3URL.Hostname(), "port": s3Port},
	}, nil
}

// docsSecrets renders the backend's and y-provider's Secrets.
func (r *renderer) docsSecrets(cfg *config.Config) error {
	redisPassword, err := r.storeValue("redis.password")
	if err != nil {
		return fmt.Errorf("rendering Secret %s/%s: %w", docsNamespace, docsSecret, err)
	}
	composed := map[string]string{
		"REDIS_URL":                redisURL(redisPassword, redisCacheDB),
		"DJANGO_CELERY_BROKER_URL": redisURL(redisPassword, redisBrokerDB),
	}
	fromStore := map[string]string{}
	for k, v := range docsBackendSecretKeys {
		fromStore[k] = v
	}
	if cfg.SMTP.Enabled() && cfg.SMTP.Username != "" {
		fromStore["DJANGO_EMAIL_HOST_PASSWORD"] = "smtp.password"
	}
	if err := r.secretOf("docs", docsNamespace, docsSecret, "", composed, fromStore); err != nil {
		return err
	}
	return r.secretFromStore("docs", docsNamespace, yProviderSecret, map[string]string{
		"COLLABORATION_SERVER_SECRET": "collaboration.secret",
		"Y_PROVIDER_API_KEY":          "yprovider.apiKey",
	})
}

// docsEdgeComponent is what Docs needs beside its chart: the routes of
// the application contract, stickiness of collaboration rooms, and the
// docs-proxy nginx for media and for y-provider's calls to the backend.
func docsEdgeComponent(v *valuesContext) (*component, error) {
	cfg := v.Config
	backendSvc, frontendSvc, ySvc := docsFullname+"-backend", docsFullname+"-frontend", docsFullname+"-y-provider"
	main := httpRoute(docsNamespace, "docs", "docs", cfg.Hosts(),
		// Uploads and exports take time; the rest answers fast.
		routeRule(pathPrefix("/api"), backend(backendSvc, 80), 300),
		routeRule(pathPrefix("/external_api"), backend(backendSvc, 80), 60),
		routeRule(pathPrefix("/admin"), backend(backendSvc, 80), 60),
		routeRule(pathPrefix("/static"), backend(backendSvc, 80), 60),
		routeRule(pathPrefix("/media/"), backend(docsProxy, proxyMediaPort), 300),
		routeRule(pathPrefix("/"), backend(frontendSvc, 80), 60),
	)
	collab := httpRoute(docsNamespace, "docs-collaboration", "docs", cfg.Hosts(),
		// A websocket lives for hours: no request timeout.
		routeRule(pathPrefix("/collaboration/ws/"), backend(ySvc, 443), 0),
		routeRule(pathPrefix("/collaboration/api/"), backend(ySvc, 443), 60),
	)
	// A document's state lives in one y-provider pod's memory: every
	// client of a room must reach the same pod, whatever the replica count.
	sticky := newObject("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", docsNamespace, "docs-collaboration", "docs").with("spec", m{
		"targetRefs": list{m{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "docs-collaboration"}},
		"loadBalancer": m{
			"type":           "ConsistentHash",
			"consistentHash": m{"type": "QueryParams", "queryParams": list{m{"name": "room"}}},
		},
		// Idle websockets are closed after an hour, not Envoy's 5 minutes.
		"timeout": m{"http": m{"streamIdleTimeout": "3600s"}},
	})
	proxy, err := docsProxyObjects(v)
	if err != nil {
		return nil, err
	}
	return &component{
		Component: Component{Name: "docs", Layer: "apps", Namespace: docsNamespace},
		dir:       "apps/docs",
		objects:   append([]Object{main, collab, sticky}, proxy...),
	}, nil
}

// docsProxyObjects is a small nginx doing what upstream's production
// nginx template does for /media: ask the backend whether the cookie may
// read the file (auth_request to /api/v1.0/documents/media-auth/ with
// X-Original-URL), then fetch it from S3 with the SigV4 headers the
// backend answered, path-style (/<bucket>/<key>) and with the Host the
// signature covers. Envoy Gateway's extAuth cannot: it forwards the
// original path to the auth service instead of X-Original-URL and cannot
// rewrite the S3 path from the auth answer. Anonymous reads get 403.
//
// A second server is y-provider's door to the backend: it adds
// X-Forwarded-Proto: https and the public Host (docs #2541).
func docsProxyObjects(v *valuesContext) ([]Object, error) {
	cfg := v.Config
	img, err := v.image("nginxinc/nginx-unprivileged")
	if err != nil {
		return nil, err
	}
	conf := nginxConfig(cfg.Domain, s3Endpoint(cfg), cfg.Storage.Bucket,
		fmt.Sprintf("http://%s", svcHost(docsFullname+"-backend", docsNamespace)))
	w := v.Profile.Workload("media-proxy")
	cm := configMap(docsNamespace, docsProxy, "docs", map[string]string{"default.conf": conf})
	probe := func() m {
		return m{"httpGet": m{"path": "/healthz", "port": "media"}, "periodSeconds": 10, "timeoutSeconds": 3}
	}
	deploy := newObject("apps/v1", "Deployment", docsNamespace, docsProxy, "docs").with("spec", m{
		"replicas": w.Replicas,
		"selector": m{"matchLabels": selectorFor(docsProxy)},
		"template": m{
			"metadata": m{
				"labels": labelsFor("docs", docsProxy),
				// A changed configuration rolls the pods (nginx reads it once).
				"annotations": m{"docs-appliance/config-hash": shortHash(conf)},
			},
			"spec": m{
				"automountServiceAccountToken": false,
				"securityContext":              restrictedPod(101),
				"containers": list{m{
					"name":            "nginx",
					"image":           img,
					"imagePullPolicy": "IfNotPresent",
					"ports": list{
						m{"name": "media", "containerPort": proxyMediaPort, "protocol": "TCP"},
						m{"name": "backend", "containerPort": proxyBackendPort, "protocol": "TCP"},
					},
					"readinessProbe":  probe(),
					"livenessProbe":   probe(),
					"resources":       w.Resources(),
					"securityContext": restrictedContainer(),
					"volumeMounts": list{
						m{"name": "conf", "mountPath": "/etc/nginx/conf.d", "readOnly": true},
						tmpMount(),
					},
				}},
				"volumes": list{
					m{"name": "conf", "configMap": m{"name": docsProxy}},
					tmpVolume(),
				},
			},
		},
	})
	svc := service(docsNamespace, docsProxy, "docs", port("media", proxyMediaPort), port("backend", proxyBackendPort))
	objs := []Object{cm, deploy, svc}
	if w.Replicas > 1 {
		objs = append(objs, newObject("policy/v1", "PodDisruptionBudget", docsNamespace, docsProxy, "docs").with("spec", m{
			"minAvailable": 1, "selector": m{"matchLabels": selectorFor(docsProxy)},
		}))
	}
	return objs, nil
}

// nginxConfig is docs-proxy's configuration. s3 is the endpoint the
// backend signs for (scheme://host[:port]); its host, port included, is
// the Host header the signature covers.
func nginxConfig(domain, s3, bucket, backendURL string) string {
	u, _ := url.Parse(s3)
	var tls string
	if u.Scheme == "https" {
		tls = fmt.Sprintf("        proxy_ssl_server_name on;\n        proxy_ssl_name %s;\n        proxy_ssl_verify on;\n        proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;\n", u.Hostname())
	}
	return fmt.Sprintf(`# docs-proxy: media behind Docs' authorization, and y-provider's door to
# the backend. Rendered by docs-appliance.
server {
    listen %[1]d;
    server_tokens off;
    client_max_body_size 1m;

    location = /healthz {
        access_log off;
        return 200 "ok\n";
    }

    location /media/ {
        auth_request /media-auth;
        auth_request_set $auth_header $upstream_http_authorization;
        auth_request_set $auth_date $upstream_http_x_amz_date;
        auth_request_set $auth_content_sha256 $upstream_http_x_amz_content_sha256;

        proxy_set_header Authorization $auth_header;
        proxy_set_header X-Amz-Date $auth_date;
        proxy_set_header X-Amz-Content-SHA256 $auth_content_sha256;
        proxy_set_header Cookie "";

        # Path-style: /media/<key> becomes /<bucket>/<key>.
        proxy_pass %[2]s/%[3]s/;
        proxy_set_header Host %[4]s;
%[5]s
        proxy_hide_header Set-Cookie;
        add_header Content-Security-Policy "default-src 'none'" always;
    }

    location = /media-auth {
        internal;
        proxy_pass %[6]s/api/v1.0/documents/media-auth/;
        proxy_set_header Host %[7]s;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Original-URL $request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
}

server {
    listen %[8]d;
    server_tokens off;
    client_max_body_size 10m;

    location / {
        proxy_pass %[6]s;
        proxy_set_header Host %[7]s;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_redirect off;
    }
}
`, proxyMediaPort, strings.TrimSuffix(s3, "/"), bucket, u.Host, tls, backendURL, domain, proxyBackendPort)
}
