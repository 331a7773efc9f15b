package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apivalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// builtins decodes built-in kinds strictly: unknown and duplicate fields, wrong types.
var builtins = sync.OnceValues(func() (*runtime.Scheme, runtime.Decoder) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1.AddToScheme(s)
	return s, kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Strict: true})
})

// crdSchema is the schema of one group/version/kind a CRD serves.
type crdSchema struct {
	structural *structuralschema.Structural
	validator  apivalidation.SchemaValidator
	err        error
}

// schemas holds the CRDs known to a validation, decoded and compiled on first use: a repository
// uses a few kinds of the hundred CRDs it carries.
type schemas struct {
	raw      map[string]map[string]any                            // group/kind
	crds     map[string]*apiextensionsv1.CustomResourceDefinition // group/kind
	compiled map[string]*crdSchema                                // group/version/kind
}

func newSchemas() *schemas {
	return &schemas{raw: map[string]map[string]any{}, crds: map[string]*apiextensionsv1.CustomResourceDefinition{}, compiled: map[string]*crdSchema{}}
}

// learn adds a CRD given as an object; later ones of the same group/kind win (the repository's
// over Flux's embedded ones).
func (s *schemas) learn(m map[string]any) error {
	spec, _ := m["spec"].(map[string]any)
	names, _ := spec["names"].(map[string]any)
	group, _ := spec["group"].(string)
	kind, _ := names["kind"].(string)
	if group == "" || kind == "" {
		return errors.New("the CRD has no spec.group or spec.names.kind")
	}
	id := group + "/" + kind
	s.raw[id] = m
	delete(s.crds, id)
	for k := range s.compiled {
		if g, rest, _ := strings.Cut(k, "/"); g == group && strings.HasSuffix(rest, "/"+kind) {
			delete(s.compiled, k)
		}
	}
	return nil
}

// crd decodes the CRD of a group and kind, if one is known.
func (s *schemas) crd(group, kind string) *apiextensionsv1.CustomResourceDefinition {
	id := group + "/" + kind
	if c, ok := s.crds[id]; ok {
		return c
	}
	m, ok := s.raw[id]
	if !ok {
		return nil
	}
	c := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, c); err != nil {
		c = nil
	}
	s.crds[id] = c
	return c
}

// fluxCRDs are the CRDs of each embedded Flux release, read once per process.
var (
	fluxCRDsMu sync.Mutex
	fluxCRDs   = map[string][]map[string]any{}
)

// learnFlux adds the CRDs of a Flux release's embedded install manifests.
func (s *schemas) learnFlux(version string, open func(string) (fs.FS, error)) error {
	fluxCRDsMu.Lock()
	crds, ok := fluxCRDs[version]
	if !ok {
		fsys, err := open(version)
		if err == nil {
			crds, err = readCRDs(fsys)
		}
		if err != nil {
			fluxCRDsMu.Unlock()
			return err
		}
		fluxCRDs[version] = crds
	}
	fluxCRDsMu.Unlock()
	for _, c := range crds {
		if err := s.learn(c); err != nil {
			return err
		}
	}
	return nil
}

// readCRDs reads every CRD of the YAML files of fsys.
func readCRDs(fsys fs.FS) ([]map[string]any, error) {
	var out []map[string]any
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		docs, err := decodeDocs(data)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		for _, d := range docs {
			if k := keyOf(d); k.group == "apiextensions.k8s.io" && k.kind == "CustomResourceDefinition" {
				out = append(out, jsonCompatible(d))
			}
		}
		return nil
	})
	return out, err
}

func (s *schemas) lookup(k objKey) (*crdSchema, bool) {
	id := k.group + "/" + k.version + "/" + k.kind
	if c, ok := s.compiled[id]; ok {
		return c, true
	}
	crd := s.crd(k.group, k.kind)
	if crd == nil {
		return nil, false
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != k.version || !v.Served {
			continue
		}
		c := &crdSchema{}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			c.err = errors.New("the CRD's version has no schema")
		} else {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				c.err = err
			} else if c.structural, c.err = structuralschema.NewStructural(internal); c.err == nil {
				c.validator, _, c.err = apivalidation.NewSchemaValidator(internal)
			}
		}
		s.compiled[id] = c
		return c, true
	}
	return nil, false
}

// checkSchema validates one object against its kind's schema.
func (s *schemas) checkSchema(o object, rep *Report) {
	add := func(rule, msg, fix string) {
		rep.add(Finding{File: o.file, Object: o.key.String(), Rule: rule, Message: msg, Fix: fix})
	}
	obj := o.obj
	if o.key.group == "" && o.key.kind == "Secret" {
		obj = schemaView(obj)
	}
	if c, ok := s.lookup(o.key); ok {
		if c.err != nil {
			return // the CRD itself is checked as an object; its broken schema is no finding here
		}
		probe := runtime.DeepCopyJSON(obj)
		unknown := pruning.PruneWithOptions(probe, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		for _, u := range unknown {
			add(RuleUnknownField, fmt.Sprintf("field %s is not in the schema of %s/%s %s", u, o.key.group, o.key.version, o.key.kind),
				"remove the field or correct its name (see the CRD's schema: kubectl explain "+strings.ToLower(o.key.kind)+"."+strings.SplitN(u, ".", 2)[0]+")")
		}
		for _, e := range apivalidation.ValidateCustomResource(nil, obj, c.validator) {
			add(RuleSchema, e.Error(), "give the field a value its schema accepts")
		}
		return
	}
	scheme, dec := builtins()
	gvk := o.key.gvk()
	if !scheme.Recognizes(gvk) {
		if s.crd(o.key.group, o.key.kind) != nil {
			add(RuleUnknownKind, fmt.Sprintf("%s/%s %s: the CRD of %s does not serve version %s", o.key.group, o.key.version, o.key.kind, o.key.kind, o.key.version),
				"use a version the CRD serves")
			return
		}
		add(RuleUnknownKind, fmt.Sprintf("no schema for %s %s: neither a Kubernetes kind nor one a CRD of the repository, of Flux or of the train defines", apiVersion(o.key), o.key.kind),
			"correct apiVersion and kind, or add the CRD to the repository's crds layer")
		return
	}
	data, err := json.Marshal(obj)
	if err != nil {
		add(RuleSchema, err.Error(), "correct the object")
		return
	}
	_, _, err = dec.Decode(data, nil, nil)
	if err == nil {
		return
	}
	if sde, ok := runtime.AsStrictDecodingError(err); ok {
		{
			for _, e := range sde.Errors() {
				add(RuleUnknownField, fmt.Sprintf("%s %s: %s", apiVersion(o.key), o.key.kind, e), "remove the field or correct its name (kubectl explain "+strings.ToLower(o.key.kind)+")")
			}
			return
		}
	}
	add(RuleSchema, fmt.Sprintf("%s %s: %v", apiVersion(o.key), o.key.kind, err), "give the field a value of the type its schema wants")
}

// schemaView is an encrypted Secret as its schema sees it: without the SOPS metadata, and with
// data values (ciphertext, not base64) emptied.
func schemaView(m map[string]any) map[string]any {
	if _, ok := m["sops"]; !ok {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	delete(out, "sops")
	if data, ok := m["data"].(map[string]any); ok {
		empty := map[string]any{}
		for k := range data {
			empty[k] = ""
		}
		out["data"] = empty
	}
	return out
}

func apiVersion(k objKey) string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}

// jsonCompatible turns YAML-decoded values into what JSON decoding gives (int64 numbers).
func jsonCompatible(m map[string]any) map[string]any {
	data, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if kjsonUnmarshal(data, &out) != nil {
		return m
	}
	return out
}
