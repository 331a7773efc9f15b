package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The repository's shared bases and one environment's overlays (see doc.go):
// base/<layer>/<unit>/ is the train's reference render, environments/<env>/<layer>/
// takes from it what the environment shares, patches what differs and adds
// what only the environment has.

// unit is one folder of a layer: a component's objects, its CRDs, or the namespaces.
type unit struct {
	layer, name string
	// key names the unit's objects in objectFiles (the component's folder).
	key  string
	objs []Object
	// data is each object's encoding by ID, made once (encode).
	data map[string][]byte
}

// encode encodes the unit's objects once: the base is written and compared with.
func (u *unit) encode() error {
	if u.data != nil {
		return nil
	}
	u.data = make(map[string][]byte, len(u.objs))
	for _, o := range u.objs {
		d, err := o.Marshal()
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", o.Kind(), o.Name(), err)
		}
		u.data[o.ID()] = d
	}
	return nil
}

// BaseDir and EnvironmentsDir, ClustersDir are the repository's top folders.
const (
	BaseDir         = "base"
	EnvironmentsDir = "environments"
	ClustersDir     = "clusters"
)

// EnvironmentDir is the folder of an environment's overlays.
func EnvironmentDir(env string) string { return path.Join(EnvironmentsDir, env) }

// ClusterDir is the folder Flux syncs for an environment: its Flux Kustomizations.
func ClusterDir(env string) string { return path.Join(ClustersDir, env) }

// units lays the rendered components out as layer folders.
func (r *renderer) units() []unit {
	var ns []Object
	for name, labels := range r.namespaces {
		ns = append(ns, namespaceObject(name, labels))
	}
	out := []unit{{layer: "crds", name: "namespaces", key: "namespaces", objs: ns}}
	for _, c := range r.components {
		if len(c.crds) > 0 {
			out = append(out, unit{layer: "crds", name: c.Name, key: c.dir + "/crds", objs: c.crds})
		}
		if len(c.objects) > 0 {
			out = append(out, unit{layer: c.Layer, name: c.Name, key: c.dir, objs: c.objects})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].layer != out[j].layer {
			return layerIndex(out[i].layer) < layerIndex(out[j].layer)
		}
		return out[i].name < out[j].name
	})
	return out
}

// unitFiles names each object's file in its unit folder: kind-name.yaml, with the
// namespace in front when two objects would share a name.
func unitFiles(objs []Object) map[string]string {
	count := map[string]int{}
	for _, o := range objs {
		count[fileName(o, false)]++
	}
	out := map[string]string{}
	for _, o := range objs {
		name := fileName(o, false)
		if count[name] > 1 {
			name = fileName(o, true)
		}
		out[o.ID()] = name
	}
	return out
}

// writeBase writes the reference render's units under base/.
func writeBase(base []unit, add func(string, []byte)) error {
	for i := range base {
		u := &base[i]
		dir := path.Join(BaseDir, u.layer, u.name)
		if err := u.encode(); err != nil {
			return fmt.Errorf("rendering the shared base %s: %w", dir, err)
		}
		if err := writeUnit(dir, u, add, nil); err != nil {
			return fmt.Errorf("rendering the shared base %s: %w", dir, err)
		}
	}
	return nil
}

// writeUnit writes one file per object and the folder's kustomization.yaml; seen, when
// not nil, learns each object's file.
func writeUnit(dir string, u *unit, add func(string, []byte), seen func(id, file string)) error {
	if err := u.encode(); err != nil {
		return err
	}
	objs := u.objs
	sortObjects(objs)
	names := unitFiles(objs)
	var files []string
	for _, o := range objs {
		add(path.Join(dir, names[o.ID()]), u.data[o.ID()])
		if seen != nil {
			seen(o.ID(), path.Join(dir, names[o.ID()]))
		}
		files = append(files, names[o.ID()])
	}
	sort.Strings(files)
	add(path.Join(dir, "kustomization.yaml"), kustomizationFile(files))
	return nil
}

// overlayPatch is one entry of an overlay's patches.
type overlayPatch struct {
	Path   string       `json:"path"`
	Target *patchTarget `json:"target,omitempty"`
}

type patchTarget struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type overlayKustomization struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Resources  []string       `json:"resources"`
	Patches    []overlayPatch `json:"patches,omitempty"`
}

// writeOverlay writes environments/<env>/<layer>/ for the environment's units of one layer
// over the base's units of that layer.
func (r *renderer) writeOverlay(env, layer string, mine, base []unit, add func(string, []byte)) error {
	dir := path.Join(EnvironmentDir(env), layer)
	baseByName := map[string]unit{}
	for _, u := range base {
		baseByName[u.name] = u
	}
	k := overlayKustomization{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization", Resources: []string{}}
	for _, u := range mine {
		record := func(id, file string) { r.objectFiles[u.key+"|"+id] = file }
		b, ok := baseByName[u.name]
		if err := u.encode(); err != nil {
			return err
		}
		if !ok || !sharesAny(u.objs, b.objs) {
			if err := writeUnit(path.Join(dir, u.name), &u, add, record); err != nil {
				return err
			}
			k.Resources = append(k.Resources, u.name)
			continue
		}
		k.Resources = append(k.Resources, relativeTo(dir, []string{path.Join(BaseDir, layer, u.name)})[0])
		baseFiles := unitFiles(b.objs)
		baseObjs := map[string]Object{}
		for _, o := range b.objs {
			baseObjs[o.ID()] = o
		}
		var local []Object
		for _, o := range u.objs {
			bo, ok := baseObjs[o.ID()]
			if !ok {
				local = append(local, o)
				continue
			}
			delete(baseObjs, o.ID())
			shared := path.Join(BaseDir, layer, u.name, baseFiles[o.ID()])
			if bytes.Equal(u.data[o.ID()], b.data[o.ID()]) {
				record(o.ID(), shared)
				continue
			}
			ops, err := diffObjects(bo, o)
			if err != nil {
				return fmt.Errorf("comparing %s %s with the base: %w", o.Kind(), o.Name(), err)
			}
			if len(ops) == 0 {
				record(o.ID(), shared)
				continue
			}
			data, err := yaml.Marshal(ops)
			if err != nil {
				return fmt.Errorf("encoding the patch of %s %s: %w", o.Kind(), o.Name(), err)
			}
			p := path.Join("patches", u.name, baseFiles[o.ID()])
			add(path.Join(dir, p), data)
			record(o.ID(), path.Join(dir, p))
			k.Patches = append(k.Patches, overlayPatch{Path: p, Target: targetOf(o)})
		}
		// What the base has and this environment does not is deleted from its build.
		var gone []string
		for id := range baseObjs {
			gone = append(gone, id)
		}
		sort.Strings(gone)
		for _, id := range gone {
			p := path.Join("patches", u.name, "delete-"+baseFiles[id])
			add(path.Join(dir, p), deletePatch(baseObjs[id]))
			k.Patches = append(k.Patches, overlayPatch{Path: p})
		}
		if len(local) > 0 {
			own := unit{objs: local, data: u.data}
			if err := writeUnit(path.Join(dir, u.name), &own, add, record); err != nil {
				return err
			}
			k.Resources = append(k.Resources, u.name)
		}
	}
	sort.Strings(k.Resources)
	sort.Slice(k.Patches, func(i, j int) bool { return k.Patches[i].Path < k.Patches[j].Path })
	data, err := yaml.Marshal(k)
	if err != nil {
		return fmt.Errorf("encoding %s/kustomization.yaml: %w", dir, err)
	}
	add(path.Join(dir, "kustomization.yaml"), data)
	return nil
}

// sharesAny reports whether the environment has any of the base unit's objects: only
// then is the base folder worth building on (otherwise it would be all deletions).
func sharesAny(mine, base []Object) bool {
	ids := map[string]bool{}
	for _, o := range base {
		ids[o.ID()] = true
	}
	for _, o := range mine {
		if ids[o.ID()] {
			return true
		}
	}
	return false
}

// regexpMeta: a patch target's name and namespace are regular expressions to kustomize.
var regexpMeta = regexp.MustCompile(`[\\.+*?()|\[\]{}^$]`)

func targetOf(o Object) *patchTarget {
	version := o.APIVersion()
	if i := strings.Index(version, "/"); i >= 0 {
		version = version[i+1:]
	}
	quote := func(s string) string {
		if regexpMeta.MatchString(s) {
			return "^" + regexp.QuoteMeta(s) + "$"
		}
		return s
	}
	return &patchTarget{Group: o.Group(), Version: version, Kind: o.Kind(), Name: quote(o.Name()), Namespace: quote(o.Namespace())}
}

// deletePatch removes one base object from an overlay's build (a strategic-merge patch).
func deletePatch(o Object) []byte {
	md := m{"name": o.Name()}
	if o.Namespace() != "" {
		md["namespace"] = o.Namespace()
	}
	data, err := yaml.Marshal(m{"$patch": "delete", "apiVersion": o.APIVersion(), "kind": o.Kind(), "metadata": md})
	if err != nil {
		// Strings only: always encodes.
		panic(fmt.Sprintf("encoding a delete patch: %v", err))
	}
	return append([]byte("# This environment does not have this object of the shared base.\n"), data...)
}

// patchOp is one JSON 6902 operation.
type patchOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	// Value is a pointer so that a false, 0, "" or null value is still written.
	Value *any `json:"value,omitempty"`
}

// diffObjects is the JSON 6902 patch that turns from into to: maps are compared key by
// key, anything else (a list, a scalar) is replaced whole, so a patch shows the fields the
// environment changes and applying it gives exactly to.
func diffObjects(from, to Object) ([]patchOp, error) {
	a, err := normalize(from)
	if err != nil {
		return nil, err
	}
	b, err := normalize(to)
	if err != nil {
		return nil, err
	}
	var ops []patchOp
	diffValue("", a, b, &ops)
	return ops, nil
}

// normalize gives an object the JSON types kustomize sees.
func normalize(o Object) (any, error) {
	data, err := json.Marshal(map[string]any(o))
	if err != nil {
		return nil, err
	}
	var v any
	return v, json.Unmarshal(data, &v)
}

func diffValue(p string, a, b any, ops *[]patchOp) {
	ma, oka := a.(map[string]any)
	mb, okb := b.(map[string]any)
	if !oka || !okb {
		if !reflect.DeepEqual(a, b) {
			*ops = append(*ops, patchOp{Op: "replace", Path: p, Value: &b})
		}
		return
	}
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		kp := p + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
		va, ina := ma[k]
		vb, inb := mb[k]
		switch {
		case !inb:
			*ops = append(*ops, patchOp{Op: "remove", Path: kp})
		case !ina:
			*ops = append(*ops, patchOp{Op: "add", Path: kp, Value: &vb})
		default:
			diffValue(kp, va, vb, ops)
		}
	}
}
