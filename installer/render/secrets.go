package render

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"path"
	"sort"

	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// secretDef is one Kubernetes Secret of the desired state.
type secretDef struct {
	Component string
	Namespace string
	Name      string
	Labels    map[string]string
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

// secretFromObject takes a chart's Secret out of the plain manifests.
func secretFromObject(component string, o Object) secretDef {
	data := map[string]string{}
	if d, ok := o["data"].(map[string]any); ok {
		for k, v := range d {
			s, _ := v.(string)
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				raw = []byte(s)
			}
			data[k] = string(raw)
		}
	}
	if d, ok := o["stringData"].(map[string]any); ok {
		for k, v := range d {
			s, _ := v.(string)
			data[k] = s
		}
	}
	typ, _ := o["type"].(string)
	return secretDef{Component: component, Namespace: o.Namespace(), Name: o.Name(), Labels: labelsOf(o), Type: typ, Data: data}
}

// writeSecrets lays out every Secret under secrets/<namespace>/, marked for
// encryption by Write.
func (r *renderer) writeSecrets(add func(string, []byte)) error {
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
		r.res.Files = append(r.res.Files, File{
			Path:    path.Join("secrets", p),
			Content: secretManifest(s),
			Secret:  true,
		})
		files = append(files, p)
	}
	add("secrets/kustomization.yaml", kustomizationFile(files))
	return nil
}

// secretManifest is the plain Secret Write encrypts. Opaque Secrets use
// the secrets package's canonical form; typed ones carry their type.
func secretManifest(s secretDef) []byte {
	plain := secrets.KubeSecret(s.Namespace, s.Name, s.Labels, s.Data)
	if s.Type == "" || s.Type == "Opaque" {
		return plain
	}
	return bytes.Replace(plain, []byte("\ntype: Opaque\n"), []byte("\ntype: "+s.Type+"\n"), 1)
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
