package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/suitenumerique/docs-appliance/profiles"
)

// Shorthands for the nested maps and lists objects and values are made of.
// Lists are always []any: the image and namespace walkers only descend
// into []any.
type (
	m    = map[string]any
	list = []any
)

// Namespaces of the appliance's own components (charts take theirs from
// the train).
const (
	nsKeycloak    = "keycloak"
	nsObjectStore = "object-store"
	nsDatabase    = "database"
	nsCache       = "cache"
	nsEdge        = "edge"
	nsMonitoring  = "monitoring"
)

// newObject starts an object with the appliance's labels. namespace is ""
// for cluster-scoped kinds.
func newObject(apiVersion, kind, namespace, name, component string) Object {
	md := m{"name": name, "labels": labelsFor(component, name)}
	if namespace != "" {
		md["namespace"] = namespace
	}
	return Object{"apiVersion": apiVersion, "kind": kind, "metadata": md}
}

// labelsFor are the recommended labels every appliance object carries:
// doctor and the Kyverno reports group by them.
func labelsFor(component, name string) m {
	return m{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/part-of":    "docs-appliance",
		"app.kubernetes.io/managed-by": "docs-appliance",
	}
}

// selectorFor is the stable subset of labelsFor used in selectors (a
// selector is immutable, so it must never grow).
func selectorFor(name string) m {
	return m{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "docs-appliance"}
}

// withKey sets key on a values map and returns it.
func withKey(mm m, key string, v any) m {
	mm[key] = v
	return mm
}

// with sets key on o and returns o, for building objects in one expression.
func (o Object) with(key string, v any) Object {
	o[key] = v
	return o
}

// restrictedContainer is the container securityContext the restricted Pod
// Security level asks for, with a read-only root filesystem.
func restrictedContainer() m {
	return m{
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem":   true,
		"runAsNonRoot":             true,
		"capabilities":             m{"drop": list{"ALL"}},
		"seccompProfile":           m{"type": "RuntimeDefault"},
	}
}

// restrictedPod runs every container as uid (never root) with files
// group-owned by it, so volumes are writable without root.
func restrictedPod(uid int) m {
	return m{
		"runAsNonRoot":        true,
		"runAsUser":           uid,
		"runAsGroup":          uid,
		"fsGroup":             uid,
		"fsGroupChangePolicy": "OnRootMismatch",
		"seccompProfile":      m{"type": "RuntimeDefault"},
	}
}

// resources returns a profile workload's requests and limits (profile
// validation guarantees every workload the appliance sizes is present).
func resources(p *profiles.Profile, workload string) m {
	return p.Workload(workload).Resources()
}

// env builds a container env list from name → value (string or a
// valueFrom map), sorted by name for stable output.
func env(vars map[string]any) list {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(list, 0, len(names))
	for _, n := range names {
		switch v := vars[n].(type) {
		case string:
			out = append(out, m{"name": n, "value": v})
		default:
			out = append(out, m{"name": n, "valueFrom": v})
		}
	}
	return out
}

// fromSecret is an env valueFrom reading one key of a Secret.
func fromSecret(name, key string) m {
	return m{"secretKeyRef": m{"name": name, "key": key}}
}

// service is a ClusterIP Service selecting the pods of name.
func service(namespace, name, component string, ports ...m) Object {
	ps := make(list, len(ports))
	for i, p := range ports {
		ps[i] = p
	}
	return newObject("v1", "Service", namespace, name, component).with("spec", m{
		"type":     "ClusterIP",
		"selector": selectorFor(name),
		"ports":    ps,
	})
}

func port(name string, number int) m {
	return m{"name": name, "port": number, "targetPort": name, "protocol": "TCP"}
}

// serviceAccount returns a ServiceAccount; token automount is off unless
// the pod talks to the API server.
func serviceAccount(namespace, name, component string, apiAccess bool) Object {
	return newObject("v1", "ServiceAccount", namespace, name, component).with("automountServiceAccountToken", apiAccess)
}

// rule is one RBAC policy rule.
func rule(groups, resources, verbs []string) m {
	return m{"apiGroups": strs(groups), "resources": strs(resources), "verbs": strs(verbs)}
}

func strs(ss []string) list {
	out := make(list, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// role and roleBinding grant a ServiceAccount rules in its namespace.
func role(namespace, name, component string, rules ...m) Object {
	rs := make(list, len(rules))
	for i, r := range rules {
		rs[i] = r
	}
	return newObject("rbac.authorization.k8s.io/v1", "Role", namespace, name, component).with("rules", rs)
}

func roleBinding(namespace, name, component, roleKind, roleName, saNamespace, sa string) Object {
	return newObject("rbac.authorization.k8s.io/v1", "RoleBinding", namespace, name, component).
		with("roleRef", m{"apiGroup": "rbac.authorization.k8s.io", "kind": roleKind, "name": roleName}).
		with("subjects", list{m{"kind": "ServiceAccount", "name": sa, "namespace": saNamespace}})
}

// configMap holds plain, non-secret data.
func configMap(namespace, name, component string, data map[string]string) Object {
	d := m{}
	for k, v := range data {
		d[k] = v
	}
	return newObject("v1", "ConfigMap", namespace, name, component).with("data", d)
}

// ref names an object for Flux health checks and cross references.
type ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

func refOf(o Object) ref {
	return ref{APIVersion: o.APIVersion(), Kind: o.Kind(), Name: o.Name(), Namespace: o.Namespace()}
}

func (r ref) String() string {
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// svcHost is the cluster DNS name of a Service.
func svcHost(name, namespace string) string {
	return name + "." + namespace + ".svc.cluster.local"
}

// tmpVolume and tmpMount give a read-only-root container a writable /tmp.
func tmpVolume() m { return m{"name": "tmp", "emptyDir": m{"sizeLimit": "64Mi"}} }

func tmpMount() m { return m{"name": "tmp", "mountPath": "/tmp"} }

// shortHash fingerprints content for a pod annotation that rolls pods
// when a mounted configuration changes.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
