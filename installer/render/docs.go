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
	// docsSuperuserSecret holds the first admin's password, which only the
	// createsuperuser Job reads.
	docsSuperuserSecret = "docs-superuser"
	// y-provider listens on yProviderPort, behind its Service's
	// yProviderServicePort (plain HTTP, whatever the number says).
	yProviderPort        = 4444
	yProviderServicePort = 443
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
func redisURL(host, password string, db int) string {
	u := url.URL{
		Scheme: "redis",
		User:   url.UserPassword("", password),
		Host:   fmt.Sprintf("%s:%d", svcHost(host, nsCache), 6379),
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

// yProviderURL is an in-cluster URL of y-provider: the backend calls it
// there, never through the public host (whose certificate its pods may
// not trust, and which would hairpin through the Gateway).
func yProviderURL(path string) string {
	return fmt.Sprintf("http://%s:%d%s", svcHost(docsFullname+"-y-provider", docsNamespace), yProviderServicePort, path)
}

// docsScopes are the scopes Docs asks for: the operator's, plus the
// standard ones whose claims it reads (email to match users, profile for
// the names of OIDC_USERINFO_*).
func docsScopes(cfg *config.Config) string {
	scopes := strings.Fields(cfg.Identity.Scopes)
	have := map[string]bool{}
	for _, s := range scopes {
		have[s] = true
	}
	for _, s := range []string{"openid", "email", "profile"} {
		if !have[s] {
			scopes = append(scopes, s)
		}
	}
	return strings.Join(scopes, " ")
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
// contract: secrets as references to the docs-backend Secret. The first
// admin's password is not among them: only the createsuperuser Job gets
// it (docsPostRender).
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
		"OIDC_RP_SCOPES":                 docsScopes(cfg),
		// Docs defaults to first_name/last_name, which no standard provider
		// sends: the profile scope's standard claims (OpenID Connect Core
		// 5.4) are what Keycloak maps its users' names to, as most do.
		"OIDC_USERINFO_FULLNAME_FIELDS": "given_name,family_name",
		"OIDC_USERINFO_SHORTNAME_FIELD": "given_name",
		"OIDC_REDIRECT_ALLOWED_HOSTS":   strings.Join(origins, ","),
		"LOGIN_REDIRECT_URL":            public,
		"LOGIN_REDIRECT_URL_FAILURE":    public,
		"LOGOUT_REDIRECT_URL":           public,

		// The backend's calls to y-provider (reset and count a room's
		// connections; convert content) stay inside the cluster; browsers
		// get the public websocket URL.
		"COLLABORATION_API_URL":   yProviderURL("/collaboration/api/"),
		"COLLABORATION_WS_URL":    "wss://" + cfg.Domain + CollaborationWSPath,
		"Y_PROVIDER_API_BASE_URL": yProviderURL("/api/"),
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
	webWorkers, err := processesFitting(backend, backendWorkerMemory, backendServerMemory)
	if err != nil {
		return nil, fmt.Errorf("sizing the Docs backend: %w", err)
	}
	celeryWorkers, err := processesFitting(celery, celeryChildMemory, celeryParentMemory)
	if err != nil {
		return nil, fmt.Errorf("sizing the Docs Celery worker: %w", err)
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
			// The web pods only. The image's default is 4 uvicorn workers
			// whatever the memory limit: as many as the limit holds.
			"django": map[string]any{"envVars": map[string]any{"WEB_CONCURRENCY": strconv.Itoa(webWorkers)}},
			"celery": map[string]any{
				"replicas": celery.Replicas, "resources": celery.Resources(),
				"podAnnotations": backendAnnotations,
				// Celery forks one child per CPU of the node by default, not
				// of the limit: as many as the limit holds.
				"args": strs([]string{"celery", "-A", "impress.celery_app", "worker", "-l", "INFO", "-n", "impress@%h",
					"--concurrency", strconv.Itoa(celeryWorkers)}),
			},
			// The password is read from the environment, never put on a
			// command line (where ps and /proc show it).
			"createsuperuser": map[string]any{"command": strs(createSuperuserCommand())},
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
			"service":        map[string]any{"port": yProviderServicePort, "targetPort": yProviderPort},
			// The chart probes liveness only: a starting pod got websockets.
			// /ping is what y-provider answers (servers/appServer.ts).
			"probes": map[string]any{
				"readiness": map[string]any{"path": "/ping", "initialDelaySeconds": 5, "timeoutSeconds": 3},
			},
			"envVars": map[string]any{
				"PORT":                        strconv.Itoa(yProviderPort),
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
		"REDIS_URL":                redisURL(redisHost(r.opts.Profile), redisPassword, redisCacheDB),
		"DJANGO_CELERY_BROKER_URL": redisURL(redisHost(r.opts.Profile), redisPassword, redisBrokerDB),
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
	if err := r.secretFromStore("docs", docsNamespace, docsSuperuserSecret, map[string]string{
		"DJANGO_SUPERUSER_PASSWORD": "django.superuserPassword",
	}); err != nil {
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
		routeRule(pathPrefix(CollaborationWSPath), backend(ySvc, yProviderServicePort), 0),
		routeRule(pathPrefix("/collaboration/api/"), backend(ySvc, yProviderServicePort), 60),
	)
	// A document's state lives in one y-provider pod's memory: every
	// client of a room must reach the same pod, whatever the replica count.
	sticky := resilientRoute(docsNamespace, "docs-collaboration", "docs", m{
		"loadBalancer": m{
			"type":           "ConsistentHash",
			"consistentHash": m{"type": "QueryParams", "queryParams": list{m{"name": "room"}}},
		},
		// Idle websockets are closed after an hour, not Envoy's 5 minutes.
		"timeout": m{"http": m{"streamIdleTimeout": "3600s"}},
	})
	mainPolicy := resilientRoute(docsNamespace, "docs", "docs", nil)
	proxy, err := docsProxyObjects(v)
	if err != nil {
		return nil, err
	}
	return &component{
		Component: Component{Name: "docs", Layer: "apps", Namespace: docsNamespace},
		dir:       "apps/docs",
		objects:   append([]Object{main, collab, sticky, mainPolicy}, proxy...),
	}, nil
}
