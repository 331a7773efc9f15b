package render

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Names the identity objects agree on.
const (
	keycloakName = "keycloak"
	// keycloakService is the Service the Keycloak operator makes for a
	// Keycloak named keycloakName (<name>-service, plain HTTP on 8080).
	keycloakService = keycloakName + "-service"
	keycloakPort    = 8080
	// realmName is the realm holding Docs' users and its OIDC client.
	realmName = "docs"
	// keycloakPublicPath is where the Gateway exposes Keycloak on the Docs
	// host: one name, one certificate, no extra DNS record to ask for.
	keycloakPublicPath = "/auth"
	keycloakOperator   = "keycloak-operator"
)

// keycloakIssuer is the public issuer URL of the embedded realm.
func keycloakIssuer(domain string) string {
	return "https://" + domain + keycloakPublicPath + "/realms/" + realmName
}

// keycloakInternal is the realm's base URL inside the cluster, for the
// calls Docs' backend makes itself (token, userinfo, keys): no hairpin
// through the Gateway, no need to trust the appliance CA. Keycloak answers
// them for the public issuer because hostname-backchannel-dynamic is on.
func keycloakInternal() string {
	return fmt.Sprintf("http://%s:%d/realms/%s", svcHost(keycloakService, nsKeycloak), keycloakPort, realmName)
}

// keycloakOperatorComponent is the Keycloak operator's Deployment and RBAC.
// Keycloak ships these only as plain manifests (keycloak-k8s-resources
// kubernetes/kubernetes.yml), no chart; the appliance writes the same
// objects here so that the image is pinned by the train, the pod is sized
// by the profile and locked down, and the operator's rights are limited to
// its own namespace (upstream binds cluster roles). Its CRDs come from the
// train's keycloak-operator-crds chart. Review this against kubernetes.yml
// when the train moves the operator to a new release.
func keycloakOperatorComponent(v *valuesContext) (*component, error) {
	img, err := v.image("keycloak/keycloak-operator")
	if err != nil {
		return nil, err
	}
	kc, err := v.image("keycloak/keycloak")
	if err != nil {
		return nil, err
	}
	const name = keycloakOperator
	ns := v.chartNamespace("keycloak-operator-crds", nsKeycloak)
	crud := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	probe := func(path string, failures int) m {
		return m{"httpGet": m{"path": path, "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": failures}
	}
	deploy := newObject("apps/v1", "Deployment", ns, name, "identity").with("spec", m{
		// One operator: it runs without leader election, so a rollout must
		// stop the old pod before starting the new one.
		"replicas": 1,
		"strategy": m{"type": "Recreate"},
		"selector": m{"matchLabels": selectorFor(name)},
		"template": m{
			"metadata": m{"labels": labelsFor("identity", name)},
			"spec": m{
				"serviceAccountName": name,
				"securityContext":    m{"runAsNonRoot": true, "seccompProfile": m{"type": "RuntimeDefault"}},
				"containers": list{m{
					"name":            name,
					"image":           img,
					"imagePullPolicy": "IfNotPresent",
					"env": env(map[string]any{
						"KUBERNETES_NAMESPACE": m{"fieldRef": m{"fieldPath": "metadata.namespace"}},
						// The Keycloak image of a Keycloak without spec.image.
						"RELATED_IMAGE_KEYCLOAK": kc,
						// Upstream defaults to Always, which fails on an
						// air-gapped node: images are preloaded, never pulled.
						"KC_OPERATOR_KEYCLOAK_IMAGE_PULL_POLICY": "IfNotPresent",
						"JAVA_OPTS_APPEND":                       "-Djava.io.tmpdir=/tmp",
					}),
					"ports":           list{m{"name": "http", "containerPort": 8080, "protocol": "TCP"}},
					"startupProbe":    probe("/q/health/started", 30),
					"livenessProbe":   probe("/q/health/live", 3),
					"readinessProbe":  probe("/q/health/ready", 3),
					"resources":       resources(v.Profile, "operator"),
					"securityContext": restrictedContainer(),
					"volumeMounts":    list{tmpMount()},
				}},
				"volumes": list{tmpVolume()},
			},
		},
	})
	objs := []Object{
		serviceAccount(ns, name, "identity", true),
		role(ns, name, "identity",
			rule([]string{"k8s.keycloak.org"}, []string{
				"keycloaks", "keycloaks/status", "keycloaks/finalizers",
				"keycloakrealmimports", "keycloakrealmimports/status", "keycloakrealmimports/finalizers",
			}, crud),
			rule([]string{""}, []string{"secrets", "services"}, crud),
			rule([]string{""}, []string{"pods", "configmaps"}, []string{"get", "list", "watch"}),
			rule([]string{""}, []string{"events"}, []string{"create", "patch"}),
			rule([]string{"apps"}, []string{"statefulsets"}, crud),
			rule([]string{"batch"}, []string{"jobs"}, crud),
			rule([]string{"networking.k8s.io"}, []string{"ingresses", "networkpolicies"}, crud),
		),
		roleBinding(ns, name, "identity", "Role", name, ns, name),
		// The operator checks its CRDs at start: read those two, nothing else.
		newObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", name+"-crds", "identity").with("rules", list{m{
			"apiGroups":     list{"apiextensions.k8s.io"},
			"resources":     list{"customresourcedefinitions"},
			"resourceNames": list{"keycloaks.k8s.keycloak.org", "keycloakrealmimports.k8s.keycloak.org"},
			"verbs":         list{"get", "list", "watch"},
		}}),
		newObject("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", name+"-crds", "identity").
			with("roleRef", m{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name + "-crds"}).
			with("subjects", list{m{"kind": "ServiceAccount", "name": name, "namespace": ns}}),
		service(ns, name, "identity", port("http", 80)),
		deploy,
	}
	return &component{
		Component: Component{Name: keycloakOperator, Layer: "operators", Namespace: ns},
		dir:       "infrastructure/" + keycloakOperator,
		objects:   objs,
	}, nil
}

// identityComponent is the embedded Keycloak: its database credentials,
// bootstrap admin, the Keycloak itself and the realm import with the Docs
// client and a first user, and its route on the Docs host.
func (r *renderer) identityComponent(v *valuesContext) (*component, error) {
	cfg, p := v.Config, v.Profile
	img, err := v.image("keycloak/keycloak")
	if err != nil {
		return nil, err
	}
	ns := v.chartNamespace("keycloak-operator-crds", nsKeycloak)
	if err := r.secretOf("identity", ns, "keycloak-db", "kubernetes.io/basic-auth",
		map[string]string{"username": "keycloak"}, map[string]string{"password": "postgres.keycloakPassword"}); err != nil {
		return nil, err
	}
	if err := r.secretOf("identity", ns, "keycloak-bootstrap-admin", "kubernetes.io/basic-auth",
		map[string]string{"username": "admin"}, map[string]string{"password": "keycloak.adminPassword"}); err != nil {
		return nil, err
	}
	realmSecrets := map[string]string{"DOCS_CLIENT_SECRET": "identity.clientSecret", "DOCS_ADMIN_PASSWORD": "identity.adminUserPassword"}
	if cfg.SMTP.Enabled() && cfg.SMTP.Username != "" {
		realmSecrets["SMTP_PASSWORD"] = "smtp.password"
	}
	if err := r.secretFromStore("identity", ns, "docs-realm", realmSecrets); err != nil {
		return nil, err
	}

	kc := newObject("k8s.keycloak.org/v2alpha1", "Keycloak", ns, keycloakName, "identity").with("spec", m{
		"instances": p.Workload("keycloak").Replicas,
		"image":     img,
		// Upstream's image is not pre-built for these options.
		"startOptimized": false,
		"db": m{
			"vendor":         "postgres",
			"host":           svcHost(postgresCluster+"-rw", nsDatabase),
			"port":           5432,
			"database":       "keycloak",
			"usernameSecret": m{"name": "keycloak-db", "key": "username"},
			"passwordSecret": m{"name": "keycloak-db", "key": "password"},
		},
		// TLS ends at the Gateway; inside the cluster Keycloak speaks HTTP.
		"http": m{"httpEnabled": true, "httpPort": keycloakPort},
		"hostname": m{
			// A full URL with a path: the Gateway strips /auth, Keycloak
			// builds every public URL with it.
			"hostname":           "https://" + cfg.Domain + keycloakPublicPath,
			"backchannelDynamic": true,
			// The admin console is not published: reach it through
			// `kubectl -n keycloak port-forward svc/keycloak-service 8080`.
			"admin": fmt.Sprintf("http://localhost:%d", keycloakPort),
		},
		"proxy":          m{"headers": "xforwarded"},
		"ingress":        m{"enabled": false},
		"bootstrapAdmin": m{"user": m{"secret": "keycloak-bootstrap-admin"}},
		"resources":      resources(p, "keycloak"),
		"additionalOptions": list{
			m{"name": "health-enabled", "value": "true"},
			m{"name": "metrics-enabled", "value": strings.ToLower(fmt.Sprint(v.observability()))},
		},
	})
	realm, err := realmImport(v, ns, realmSecrets)
	if err != nil {
		return nil, err
	}
	branded, err := brandKeycloak(v, ns, kc, realm)
	if err != nil {
		return nil, err
	}
	route := httpRoute(ns, "keycloak", "identity", cfg.Hosts(),
		// Only the docs realm and the theme resources are public; the
		// master realm and the admin console stay inside.
		routeRule(pathPrefix(keycloakPublicPath+"/realms/"+realmName+"/"), backend(keycloakService, keycloakPort), 60,
			rewritePrefix("/realms/"+realmName+"/")),
		routeRule(pathPrefix(keycloakPublicPath+"/resources/"), backend(keycloakService, keycloakPort), 60,
			rewritePrefix("/resources/")),
	)
	return &component{
		Component: Component{Name: "identity", Layer: "platform", Namespace: ns},
		dir:       "infrastructure/identity",
		objects:   append([]Object{kc, realm, route, resilientRoute(ns, "keycloak", "identity", nil)}, branded...),
		health:    []ref{refOf(kc), refOf(realm)},
	}, nil
}

// realmImport creates the docs realm once (Keycloak imports a realm only
// when it does not exist: later changes are made in Keycloak, and a
// re-render never overwrites them). Secret values are ${PLACEHOLDERS}
// the operator fills from the docs-realm Secret.
func realmImport(v *valuesContext, ns string, placeholders map[string]string) (Object, error) {
	cfg := v.Config
	var redirects, logouts, origins []string
	for _, h := range cfg.Hosts() {
		redirects = append(redirects, "https://"+h+DocsCallbackPath)
		logouts = append(logouts, "https://"+h+"/api/v1.0/logout-callback/")
		origins = append(origins, "https://"+h)
	}
	client := m{
		"clientId":                  cfg.Identity.ClientID,
		"name":                      "Docs",
		"enabled":                   true,
		"protocol":                  "openid-connect",
		"publicClient":              false,
		"clientAuthenticatorType":   "client-secret",
		"secret":                    "${DOCS_CLIENT_SECRET}",
		"standardFlowEnabled":       true,
		"implicitFlowEnabled":       false,
		"directAccessGrantsEnabled": false,
		"serviceAccountsEnabled":    false,
		"rootUrl":                   "https://" + cfg.Domain,
		"redirectUris":              strs(redirects),
		"webOrigins":                strs(origins),
		"attributes": m{
			"post.logout.redirect.uris": strings.Join(logouts, "##"),
		},
	}
	user := m{
		"username":      strings.SplitN(cfg.AdminEmail, "@", 2)[0],
		"email":         cfg.AdminEmail,
		"emailVerified": true,
		"enabled":       true,
		"firstName":     "Docs",
		"lastName":      "Administrator",
		"credentials":   list{m{"type": "password", "value": "${DOCS_ADMIN_PASSWORD}", "temporary": false}},
	}
	realm := m{
		"realm":                  realmName,
		"displayName":            "Docs",
		"enabled":                true,
		"sslRequired":            "external",
		"registrationAllowed":    false,
		"loginWithEmailAllowed":  true,
		"duplicateEmailsAllowed": false,
		"bruteForceProtected":    true,
		// Resetting a password needs mail.
		"resetPasswordAllowed": cfg.SMTP.Enabled(),
		"clients":              list{client},
		"users":                list{user},
	}
	if cfg.SMTP.Enabled() {
		smtp := m{
			"host": cfg.SMTP.Host, "port": fmt.Sprint(cfg.SMTP.Port), "from": cfg.SMTP.From,
			"starttls": fmt.Sprint(cfg.SMTP.Security == "starttls"), "ssl": fmt.Sprint(cfg.SMTP.Security == "tls"),
			"auth": fmt.Sprint(cfg.SMTP.Username != ""),
		}
		if cfg.SMTP.Username != "" {
			smtp["user"], smtp["password"] = cfg.SMTP.Username, "${SMTP_PASSWORD}"
		}
		realm["smtpServer"] = smtp
	}
	ph := m{}
	for key := range placeholders {
		ph[key] = m{"secret": m{"name": "docs-realm", "key": key}}
	}
	// Round-trip through JSON so the realm is plain data (no Go types),
	// as the golden files and the API server see it.
	raw, err := json.Marshal(realm)
	if err != nil {
		return nil, fmt.Errorf("encoding the realm: %w", err)
	}
	var plain map[string]any
	if err := json.Unmarshal(raw, &plain); err != nil {
		return nil, fmt.Errorf("encoding the realm: %w", err)
	}
	return newObject("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", ns, realmName, "identity").with("spec", m{
		"keycloakCRName": keycloakName,
		"realm":          plain,
		"placeholders":   ph,
	}), nil
}
