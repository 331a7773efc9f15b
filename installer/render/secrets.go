package render

import (
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// secretDef is one Kubernetes Secret of the desired state.
type secretDef struct {
	Component string
	Namespace string
	Name      string
	Labels    map[string]string
	// Annotations are a chart Secret's own (a service-account token's
	// kubernetes.io/service-account.name, say), Helm's left out.
	Annotations map[string]string
	// Type is the Secret's type; empty means Opaque.
	Type string
	// Data maps each Secret key to its value.
	Data map[string]string
}

// secretFromStore builds a Secret whose keys map to secret-store names.
func (r *renderer) secretFromStore(component, namespace, name string, keys map[string]string) error {
	return r.typedSecretFromStore(component, namespace, name, "", keys)
}

// typedSecretFromStore is secretFromStore for a Secret of a given type
// (kubernetes.io/basic-auth for CloudNativePG roles, for instance).
func (r *renderer) typedSecretFromStore(component, namespace, name, typ string, keys map[string]string) error {
	data := map[string]string{}
	for key, storeName := range keys {
		v, err := r.storeValue(storeName)
		if err != nil {
			return fmt.Errorf("rendering Secret %s/%s: %w", namespace, name, err)
		}
		data[key] = v
	}
	r.addSecret(secretDef{Component: component, Namespace: namespace, Name: name, Type: typ, Data: data})
	return nil
}

// storeValue reads one secret-store value, for Secrets that compose it
// into a larger value (a URL with a password, a certificate pair).
func (r *renderer) storeValue(name string) (string, error) {
	v, ok := r.opts.Secrets.Get(name)
	if !ok {
		return "", fmt.Errorf("secret %s is not in the secret store (generate or give it before rendering)", name)
	}
	return v, nil
}

func (r *renderer) addSecret(s secretDef) {
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels["app.kubernetes.io/managed-by"] = "docs-appliance"
	s.Labels["app.kubernetes.io/part-of"] = s.Component
	r.secrets = append(r.secrets, s)
}

// secretFromObject takes a chart's Secret out of the plain manifests. Its
// values are kept byte for byte: data is decoded from base64 (Write
// re-encodes what is not UTF-8 text), stringData wins over data as the
// API server merges them.
func secretFromObject(component string, o Object) (secretDef, error) {
	id := fmt.Sprintf("Secret %s/%s", o.Namespace(), o.Name())
	data := map[string]string{}
	if d, ok := o["data"].(map[string]any); ok {
		for k, v := range d {
			s, ok := v.(string)
			if !ok {
				return secretDef{}, fmt.Errorf("%s: data.%s is a %T, not a base64 string", id, k, v)
			}
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return secretDef{}, fmt.Errorf("%s: data.%s is not base64 (the API server would refuse it): %w", id, k, err)
			}
			data[k] = string(raw)
		}
	}
	if d, ok := o["stringData"].(map[string]any); ok {
		for k, v := range d {
			s, ok := v.(string)
			if !ok {
				return secretDef{}, fmt.Errorf("%s: stringData.%s is a %T, not a string (quote it in the chart's values)", id, k, v)
			}
			data[k] = s
		}
	}
	typ, _ := o["type"].(string)
	annotations := map[string]string{}
	given, _ := o.metadata()["annotations"].(map[string]any)
	for k, v := range given {
		if s, ok := v.(string); ok && !strings.HasPrefix(k, "helm.sh/") {
			annotations[k] = s
		}
	}
	return secretDef{Component: component, Namespace: o.Namespace(), Name: o.Name(), Labels: labelsOf(o),
		Annotations: annotations, Type: typ, Data: data}, nil
}

// writeSecrets lays out every Secret under secrets/<namespace>/, marked for
// encryption by Write.
func (r *renderer) writeSecrets(dir string, add func(string, []byte)) error {
	sort.Slice(r.secrets, func(i, j int) bool {
		a, b := r.secrets[i], r.secrets[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	var files []string
	seen := map[string]bool{}
	for _, s := range r.secrets {
		p := path.Join(s.Namespace, sanitize(s.Name)+".yaml")
		if seen[p] {
			return fmt.Errorf("rendering secrets: Secret %s/%s is defined twice", s.Namespace, s.Name)
		}
		seen[p] = true
		content, err := secretManifest(s)
		if err != nil {
			return fmt.Errorf("rendering secrets: %w", err)
		}
		r.res.Files = append(r.res.Files, File{Path: path.Join(dir, p), Content: content, Secret: true})
		files = append(files, p)
	}
	add(path.Join(dir, "kustomization.yaml"), kustomizationFile(files))
	return nil
}

// maxSecretBytes is the API server's limit on a Secret's values, summed.
const maxSecretBytes = 1 << 20

// kubeSecret is the plain form of a Secret, marshalled by a YAML encoder:
// a value may hold anything a file can (a PEM chain, an Alertmanager
// configuration, leading spaces, "---", ": ", "#"), and comes back byte
// for byte from SOPS and from the API server.
type kubeSecret struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   secretMeta `json:"metadata"`
	Type       string     `json:"type"`
	// StringData holds the values that are UTF-8 text, readable once
	// decrypted; Data the others, base64-encoded as Kubernetes wants.
	StringData map[string]string `json:"stringData,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
}

type secretMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// secretManifest is the plain Secret Write encrypts.
func secretManifest(s secretDef) ([]byte, error) {
	ks := kubeSecret{
		APIVersion: "v1", Kind: "Secret", Type: s.Type,
		Metadata: secretMeta{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, Annotations: s.Annotations},
	}
	if ks.Type == "" {
		ks.Type = "Opaque"
	}
	size := 0
	for k, v := range s.Data {
		size += len(v)
		if utf8.ValidString(v) {
			if ks.StringData == nil {
				ks.StringData = map[string]string{}
			}
			ks.StringData[k] = v
			continue
		}
		if ks.Data == nil {
			ks.Data = map[string][]byte{}
		}
		ks.Data[k] = []byte(v)
	}
	if size > maxSecretBytes {
		return nil, fmt.Errorf("Secret %s/%s holds %d bytes of values; Kubernetes accepts at most %d: make its values smaller or split it", s.Namespace, s.Name, size, maxSecretBytes)
	}
	out, err := yaml.Marshal(ks)
	if err != nil {
		return nil, fmt.Errorf("encoding Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return out, nil
}

// secretOf builds a Secret from literal values (user names, hosts: not
// secret, but what the consumer reads from the same Secret) and
// secret-store values, and composes none of them into plain files.
func (r *renderer) secretOf(component, namespace, name, typ string, literals, fromStore map[string]string) error {
	data := map[string]string{}
	for k, v := range literals {
		data[k] = v
	}
	for key, storeName := range fromStore {
		v, err := r.storeValue(storeName)
		if err != nil {
			return fmt.Errorf("rendering Secret %s/%s: %w", namespace, name, err)
		}
		data[key] = v
	}
	r.addSecret(secretDef{Component: component, Namespace: namespace, Name: name, Type: typ, Data: data})
	return nil
}
