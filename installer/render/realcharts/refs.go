package realcharts

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// ref is one Secret or ConfigMap a rendered object names.
type ref struct {
	kind, namespace, name string
	key                   string // "" when the whole object is named
	optional              bool
	from, field           string // the naming object and where in it
}

// store is what exists, or will, in each namespace: the Secrets and
// ConfigMaps of the render with their keys, and those made at run time by
// a rendered object (keys unknown: nil).
type store struct {
	have     map[string]map[string]bool // kind/ns/name → keys
	madeBy   map[string]string          // kind/ns/name → what makes it
	anyNames map[string]string          // kind/name → made in every namespace (by what)
}

func newStore(objs []object, certManagerNS string) *store {
	s := &store{have: map[string]map[string]bool{}, madeBy: map[string]string{}, anyNames: map[string]string{
		// kube-controller-manager's root-ca-cert-publisher puts it in every namespace.
		"ConfigMap/kube-root-ca.crt": "kube-controller-manager",
	}}
	made := func(kind, ns, name, by string) {
		if _, ok := s.have[kind+"/"+ns+"/"+name]; !ok {
			s.madeBy[kind+"/"+ns+"/"+name] = by
		}
	}
	// The install's hand-over puts the appliance's age key beside Flux
	// before Flux reads the render (installer/gitops, bootstrap layer).
	made("Secret", gitops.FluxNamespace, gitops.SOPSSecret, "the install's hand-over to Flux")
	for _, o := range objs {
		ns, name := o.GetNamespace(), o.GetName()
		switch {
		case o.GetAPIVersion() == "v1" && (o.GetKind() == "Secret" || o.GetKind() == "ConfigMap"):
			keys := map[string]bool{}
			for _, field := range []string{"data", "stringData", "binaryData"} {
				m, _ := o.Object[field].(map[string]any)
				for k := range m {
					keys[k] = true
				}
			}
			s.have[o.GetKind()+"/"+ns+"/"+name] = keys
			delete(s.madeBy, o.GetKind()+"/"+ns+"/"+name)
		case strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") && o.GetKind() == "Certificate":
			spec, _ := o.Object["spec"].(map[string]any)
			if sn := str(spec, "secretName"); sn != "" {
				made("Secret", ns, sn, "cert-manager, for "+o.id())
			}
		case strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") && (o.GetKind() == "Issuer" || o.GetKind() == "ClusterIssuer"):
			// The ACME account key is registered and stored by cert-manager.
			if n, _, _ := unstructured.NestedString(o.Object, "spec", "acme", "privateKeySecretRef", "name"); n != "" {
				issuerNS := ns
				if o.GetKind() == "ClusterIssuer" {
					// cert-manager's cluster resource namespace: its own.
					issuerNS = certManagerNS
				}
				made("Secret", issuerNS, n, "cert-manager, for "+o.id())
			}
		case strings.HasPrefix(o.GetAPIVersion(), "postgresql.cnpg.io/") && o.GetKind() == "Cluster":
			// CloudNativePG makes these for every Cluster (its docs, "Secrets").
			for _, suffix := range []string{"app", "superuser", "ca", "server", "replication"} {
				made("Secret", ns, name+"-"+suffix, "CloudNativePG, for "+o.id())
			}
		case o.GetKind() == "Job" && exportsTo(o) != nil:
			// The appliance's CA export (render's tls.go): the CA
			// certificate as ConfigMap EXPORT_NAME in TARGET_NAMESPACES.
			e := exportsTo(o)
			for _, target := range strings.Fields(e["TARGET_NAMESPACES"]) {
				made("ConfigMap", target, e["EXPORT_NAME"], "the appliance CA export, "+o.id())
			}
		case o.GetKind() == "Job" && runsCertgen(o):
			// Envoy Gateway's `certgen` (internal/provider/kubernetes/secrets.go).
			for _, n := range []string{"envoy-gateway", "envoy", "envoy-rate-limit", "envoy-oidc-hmac"} {
				made("Secret", ns, n, "Envoy Gateway's certgen, "+o.id())
			}
		}
	}
	return s
}

// exportsTo is the EXPORT_NAME and TARGET_NAMESPACES a Job's container
// is given, when it is given both.
func exportsTo(o object) map[string]string {
	for _, spec := range podSpecs(o) {
		for _, c := range list(spec["containers"]) {
			e := map[string]string{}
			for _, v := range list(c["env"]) {
				e[str(v, "name")] = str(v, "value")
			}
			if e["EXPORT_NAME"] != "" && e["TARGET_NAMESPACES"] != "" {
				return e
			}
		}
	}
	return nil
}

func runsCertgen(o object) bool {
	for _, spec := range podSpecs(o) {
		for _, c := range list(spec["containers"]) {
			if strings.Contains(str(c, "image"), "envoyproxy/gateway") && strings.Contains(fmt.Sprint(c["args"], c["command"]), "certgen") {
				return true
			}
		}
	}
	return false
}

// resolve says how r is satisfied, or why not.
func (s *store) resolve(r ref) (how string, err error) {
	id := r.kind + "/" + r.namespace + "/" + r.name
	if keys, ok := s.have[id]; ok {
		if r.key != "" && !keys[r.key] {
			if r.optional {
				return "optional key absent", nil
			}
			return "", fmt.Errorf("%s %s/%s has no key %q (it has %s)", r.kind, r.namespace, r.name, r.key, keyList(keys))
		}
		return "rendered", nil
	}
	if by, ok := s.madeBy[id]; ok {
		return "made at run time by " + by, nil
	}
	if by, ok := s.anyNames[r.kind+"/"+r.name]; ok {
		return "made at run time by " + by, nil
	}
	if r.optional {
		return "optional, absent", nil
	}
	return "", fmt.Errorf("no %s %s/%s is rendered, nor made by a rendered object", r.kind, r.namespace, r.name)
}

func keyList(keys map[string]bool) string {
	if len(keys) == 0 {
		return "no keys"
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

var (
	// Fields naming a Secret or ConfigMap by {name[, key]}: Kubernetes'
	// secretRef/configMapRef/secretKeyRef/configMapKeyRef, and the custom
	// resources' own (CloudNativePG's bootstrap secret, Keycloak's
	// usernameSecret, a Redis' redisSecret...).
	secretField    = regexp.MustCompile(`(?i)(secret|secretref|secretkeyref)$`)
	configMapField = regexp.MustCompile(`(?i)(configmap|configmapref|configmapkeyref)$`)
)

// refsOf lists every Secret and ConfigMap an object names. Policies hold
// patterns (Kyverno), CRDs hold schemas, and Secrets and ConfigMaps hold
// text: none names anything.
func refsOf(o object, certManagerNS string) []ref {
	g := o.GroupVersionKind().Group
	if o.GetKind() == "CustomResourceDefinition" || g == "kyverno.io" || g == "policies.kyverno.io" ||
		(g == "" && (o.GetKind() == "Secret" || o.GetKind() == "ConfigMap")) {
		return nil
	}
	var out []ref
	home := o.GetNamespace()
	if o.GetKind() == "ClusterIssuer" && g == "cert-manager.io" {
		home = certManagerNS // cert-manager's cluster resource namespace
	}
	add := func(kind, ns, name, key string, optional bool, field string) {
		if ns == "" {
			ns = home
		}
		out = append(out, ref{kind: kind, namespace: ns, name: name, key: key, optional: optional, from: o.id(), field: field})
	}
	var walk func(v any, at, parent string)
	walk = func(v any, at, parent string) {
		switch t := v.(type) {
		case map[string]any:
			optional, _ := t["optional"].(bool)
			name, key := str(t, "name"), str(t, "key")
			items := list(t["items"])
			switch {
			case name != "" && (secretField.MatchString(parent) || configMapField.MatchString(parent)):
				kind := "Secret"
				if configMapField.MatchString(parent) {
					kind = "ConfigMap"
				}
				// A volume or projection lists the keys it takes in items.
				for _, it := range items {
					add(kind, str(t, "namespace"), name, str(it, "key"), optional, at+".items")
				}
				if len(items) == 0 {
					add(kind, str(t, "namespace"), name, key, optional, at)
				}
			case name != "" && (str(t, "kind") == "Secret" || str(t, "kind") == "ConfigMap") && str(t, "group") == "" && t["apiVersion"] == nil:
				// Gateway API style: {kind: Secret, name, namespace}.
				add(str(t, "kind"), str(t, "namespace"), name, "", optional, at)
			}
			if sn := str(t, "secretName"); sn != "" && parent == "secret" {
				// A pod volume: {secret: {secretName, items: [{key}]}}.
				for _, it := range items {
					add("Secret", "", sn, str(it, "key"), optional, at+".items")
				}
				if len(items) == 0 {
					add("Secret", "", sn, "", optional, at)
				}
			}
			for k, c := range t {
				walk(c, at+"."+k, k)
			}
		case []any:
			for i, c := range t {
				walk(c, fmt.Sprintf("%s[%d]", at, i), parent)
			}
		}
	}
	walk(o.Object, "", "")
	for path, spec := range podSpecs(o) {
		for i, ps := range list(spec["imagePullSecrets"]) {
			add("Secret", "", str(ps, "name"), "", false, fmt.Sprintf(".%s.imagePullSecrets[%d]", path, i))
		}
	}
	return out
}
