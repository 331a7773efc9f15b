package cluster

import (
	"strings"
	"testing"
)

func TestDecodeObjectsSkipsEmptyDocumentsAndExpandsLists(t *testing.T) {
	manifests := `
---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: demo}
data: {k: v}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: demo}}
- {apiVersion: v1, kind: Secret, metadata: {name: two}}
---
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "three"}}
`
	objs, err := DecodeObjects([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, RefOf(o).String())
	}
	want := "ConfigMap demo/one|Namespace demo|Secret two|Deployment three"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestDecodeObjectsNamesTheBadDocument(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"no name":    {"apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Secret\nmetadata: {}\n", "document 1: object \"ConfigMap \" lacks metadata.name"},
		"no kind":    {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n", "document 2: object \" b\" lacks kind"},
		"not yaml":   {"apiVersion: v1\nkind: [\n", "decoding manifest document 1"},
		"list items": {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, metadata: {name: x}}\n", "List item 1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeObjects([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
