package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one Kubernetes object as a generic map.
type Object map[string]any

func (o Object) str(path ...string) string {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// APIVersion, Kind, Name and Namespace read the object's identity.
func (o Object) APIVersion() string { return o.str("apiVersion") }
func (o Object) Kind() string       { return o.str("kind") }
func (o Object) Name() string       { return o.str("metadata", "name") }
func (o Object) Namespace() string  { return o.str("metadata", "namespace") }

// Group returns the API group ("" for core).
func (o Object) Group() string {
	if i := strings.Index(o.APIVersion(), "/"); i >= 0 {
		return o.APIVersion()[:i]
	}
	return ""
}

func (o Object) metadata() map[string]any {
	m, ok := o["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		o["metadata"] = m
	}
	return m
}

// SetNamespace sets metadata.namespace.
func (o Object) SetNamespace(ns string) { o.metadata()["namespace"] = ns }

// Annotations returns the annotations map, creating it.
func (o Object) Annotations() map[string]any {
	md := o.metadata()
	a, ok := md["annotations"].(map[string]any)
	if !ok {
		a = map[string]any{}
		md["annotations"] = a
	}
	return a
}

// Annotation reads one annotation without creating the map.
func (o Object) Annotation(key string) string {
	md, _ := o["metadata"].(map[string]any)
	a, _ := md["annotations"].(map[string]any)
	s, _ := a[key].(string)
	return s
}

// ID is kind/namespace/name, unique within the desired state.
func (o Object) ID() string {
	return fmt.Sprintf("%s/%s/%s/%s", o.Group(), o.Kind(), o.Namespace(), o.Name())
}

// Marshal renders the object as YAML with sorted keys (deterministic).
func (o Object) Marshal() ([]byte, error) { return yaml.Marshal(map[string]any(o)) }

// ParseObjects splits a multi-document YAML stream into objects, dropping
// empty documents and flattening Lists.
func ParseObjects(data []byte) ([]Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []Object
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing manifest: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		o := Object(m)
		if strings.HasSuffix(o.Kind(), "List") && o["items"] != nil {
			items, _ := o["items"].([]any)
			for _, it := range items {
				if im, ok := it.(map[string]any); ok {
					out = append(out, Object(im))
				}
			}
			continue
		}
		if o.Kind() == "" || o.APIVersion() == "" || o.Name() == "" {
			return nil, fmt.Errorf("parsing manifest: a document lacks apiVersion, kind or metadata.name")
		}
		out = append(out, o)
	}
	return out, nil
}

// clusterScopedKinds are the built-in kinds without a namespace.
var clusterScopedKinds = map[string]bool{
	"/Namespace": true, "/Node": true, "/PersistentVolume": true, "/ComponentStatus": true,
	"rbac.authorization.k8s.io/ClusterRole": true, "rbac.authorization.k8s.io/ClusterRoleBinding": true,
	"apiextensions.k8s.io/CustomResourceDefinition": true, "apiregistration.k8s.io/APIService": true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"storage.k8s.io/StorageClass":                                   true, "storage.k8s.io/CSIDriver": true, "storage.k8s.io/CSINode": true,
	"storage.k8s.io/VolumeAttachment": true, "scheduling.k8s.io/PriorityClass": true,
	"node.k8s.io/RuntimeClass": true, "networking.k8s.io/IngressClass": true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                 true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration": true,
	"certificates.k8s.io/CertificateSigningRequest":           true,
	// Cluster-scoped kinds of the appliance's own manifests: their scope
	// must be known even when a build carries no chart with their CRDs.
	"cert-manager.io/ClusterIssuer":          true,
	"gateway.networking.k8s.io/GatewayClass": true,
	"kyverno.io/ClusterPolicy":               true,
}

// scopes knows which kinds are cluster-scoped: the built-ins plus every
// CRD seen in the desired state.
type scopes map[string]bool

func newScopes() scopes {
	s := scopes{}
	for k := range clusterScopedKinds {
		s[k] = true
	}
	return s
}

// learn records a CRD's scope.
func (s scopes) learn(crd Object) {
	spec, _ := crd["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	scope, _ := spec["scope"].(string)
	s[group+"/"+kind] = scope == "Cluster"
}

func (s scopes) clusterScoped(o Object) bool { return s[o.Group()+"/"+o.Kind()] }

// crdAPIVersions lists group/version and group/version/Kind of a CRD, as
// Helm's Capabilities.APIVersions.Has expects them.
func crdAPIVersions(crd Object) []string {
	spec, _ := crd["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	versions, _ := spec["versions"].([]any)
	var out []string
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if name, _ := vm["name"].(string); name != "" {
			out = append(out, group+"/"+name, group+"/"+name+"/"+kind)
		}
	}
	return out
}

// fileName names an object's file inside its component folder.
func fileName(o Object, withNamespace bool) string {
	base := strings.ToLower(o.Kind()) + "-" + o.Name()
	if withNamespace && o.Namespace() != "" {
		base = o.Namespace() + "-" + base
	}
	return sanitize(base) + ".yaml"
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// sortObjects orders objects by kind, namespace and name for stable output.
func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].ID() < objs[j].ID() })
}
