package secrets

import (
	"bytes"
	"fmt"
	"sort"

	"filippo.io/age"
	"sigs.k8s.io/yaml"
)

// KubeSecret renders a plain Kubernetes Secret with stringData, keys sorted
// so the same values always give the same bytes.
func KubeSecret(namespace, name string, labels map[string]string, data map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n  namespace: %s\n", name, namespace)
	if len(labels) > 0 {
		b.WriteString("  labels:\n")
		for _, k := range sortedKeys(labels) {
			fmt.Fprintf(&b, "    %s: %s\n", k, quote(labels[k]))
		}
	}
	b.WriteString("type: Opaque\nstringData:\n")
	for _, k := range sortedKeys(data) {
		fmt.Fprintf(&b, "  %s: %s\n", k, quote(data[k]))
	}
	return b.Bytes()
}

func quote(s string) string {
	q, _ := yaml.Marshal(s)
	return string(bytes.TrimSuffix(q, []byte("\n")))
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// SecretValues decrypts an encrypted Kubernetes Secret and returns its
// values (data base64-decoded, stringData as is).
func SecretValues(encrypted []byte, ids ...*age.X25519Identity) (map[string]string, error) {
	plain, err := Decrypt(encrypted, ids...)
	if err != nil {
		return nil, err
	}
	var s struct {
		Data       map[string][]byte `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(plain, &s); err != nil {
		return nil, fmt.Errorf("reading decrypted Secret: %w", err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out, nil
}

// EqualValues reports whether two secret value maps hold the same values.
func EqualValues(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
