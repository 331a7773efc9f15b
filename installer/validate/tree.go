package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

var kjsonUnmarshal = utiljson.Unmarshal

// file is one YAML or JSON file of the tree.
type file struct {
	path string // relative, slash-separated
	data []byte
	docs []map[string]any
	// encrypted: the file carries SOPS metadata (a top-level sops key).
	encrypted bool
}

// tree is the repository's files.
type tree struct {
	root  string
	files []*file
	// plain are the non-encrypted files of any type, for the plain-value check.
	plain []*file
	// byObject finds the file of an object: "group/kind/namespace/name", then "group/kind/name".
	byObject map[string]string
}

// maxFile bounds what is read of one file: a desired-state repository holds manifests, not data.
const maxFile = 16 << 20

func loadTree(root string, rep *Report) (*tree, error) {
	t := &tree{root: root, byObject: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil || info.Size() > maxFile {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f := &file{path: rel, data: data}
		ext := strings.ToLower(filepath.Ext(rel))
		if ext != ".yaml" && ext != ".yml" && ext != ".json" {
			t.plain = append(t.plain, f)
			return nil
		}
		rep.Files++
		docs, err := decodeDocs(data)
		if err != nil {
			rep.add(Finding{File: rel, Rule: RuleYAML, Message: "the file does not parse: " + err.Error(), Fix: "correct its YAML syntax"})
		}
		for _, d := range docs {
			if _, ok := d["sops"].(map[string]any); ok {
				f.encrypted = true
			}
			k := keyOf(d)
			if k.kind == "" {
				continue
			}
			for _, id := range []string{k.full(), k.noNamespace()} {
				if _, seen := t.byObject[id]; !seen {
					t.byObject[id] = rel
				}
			}
			// Only what the tree's own checks read is kept: the objects come from the builds, and
			// a repository's CRDs run to megabytes.
			if k.group == fluxKustomizeGroup && k.kind == "Kustomization" || k.group == "" && k.kind == "Secret" {
				f.docs = append(f.docs, d)
			}
		}
		t.files = append(t.files, f)
		if !f.encrypted {
			t.plain = append(t.plain, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the repository %s: %w", root, err)
	}
	return t, nil
}

// decodeDocs reads every YAML document of data as a map; null documents are dropped.
func decodeDocs(data []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if m, ok := doc.(map[string]any); ok {
			out = append(out, m)
		}
	}
}

// objKey identifies an object.
type objKey struct{ group, version, kind, namespace, name string }

func keyOf(m map[string]any) objKey {
	av, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	group, version, ok := strings.Cut(av, "/")
	if !ok {
		group, version = "", av
	}
	return objKey{group, version, kind, ns, name}
}

func (k objKey) full() string        { return k.group + "/" + k.kind + "/" + k.namespace + "/" + k.name }
func (k objKey) noNamespace() string { return k.group + "/" + k.kind + "/" + k.name }

func (k objKey) gvk() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind}
}

// String is how a finding names the object.
func (k objKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// fileOf is the file an object of a build comes from, or fallback (the built folder).
func (t *tree) fileOf(k objKey, fallback string) string {
	if f, ok := t.byObject[k.full()]; ok {
		return f
	}
	if f, ok := t.byObject[k.noNamespace()]; ok {
		return f
	}
	return fallback
}
