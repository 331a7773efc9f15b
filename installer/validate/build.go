package validate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	fluxfs "github.com/fluxcd/pkg/kustomize/filesys"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const fluxKustomizeGroup = "kustomize.toolkit.fluxcd.io"

// kustomization is one Flux Kustomization of the tree.
type kustomization struct {
	key  objKey
	file string
	obj  map[string]any
	path string // spec.path, cleaned, relative to the root
}

func (k *kustomization) id() string { return k.key.namespace + "/" + k.key.name }

// sourceKind is the kind of the Kustomization's source (GitRepository when unset, as a
// repository's own Kustomizations leave it to the default).
func (k *kustomization) sourceKind() string {
	spec, _ := k.obj["spec"].(map[string]any)
	ref, _ := spec["sourceRef"].(map[string]any)
	if kind, _ := ref["kind"].(string); kind != "" {
		return kind
	}
	return "GitRepository"
}

// object is one object a build produced.
type object struct {
	key  objKey
	obj  map[string]any
	file string
	ks   *kustomization
}

// kustomizations finds every Flux Kustomization in the tree's files.
func (t *tree) kustomizations() []*kustomization {
	var out []*kustomization
	seen := map[string]bool{}
	for _, f := range t.files {
		for _, d := range f.docs {
			k := keyOf(d)
			if k.group != fluxKustomizeGroup || k.kind != "Kustomization" {
				continue
			}
			if k.namespace == "" {
				k.namespace = "flux-system"
			}
			spec, _ := d["spec"].(map[string]any)
			p, _ := spec["path"].(string)
			ks := &kustomization{key: k, file: f.path, obj: d, path: path.Clean(strings.TrimPrefix(p, "/"))}
			if seen[ks.id()] {
				continue
			}
			seen[ks.id()] = true
			out = append(out, ks)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

// build runs kustomize-controller's build of one Kustomization's path.
func (t *tree) build(ks *kustomization, rep *Report) []object {
	fail := func(rule, msg, fix string) []object {
		rep.add(Finding{File: ks.file, Object: ks.key.String(), Rule: rule, Message: msg, Fix: fix})
		return nil
	}
	if ks.path == ".." || strings.HasPrefix(ks.path, "../") {
		return fail(RulePath, fmt.Sprintf("spec.path %q leaves the repository", ks.path), "give a path inside the repository, relative to its root")
	}
	abs, err := filepath.Abs(t.root)
	if err != nil {
		return fail(RuleBuild, err.Error(), "run validate on a readable folder")
	}
	dir := filepath.Join(abs, filepath.FromSlash(ks.path))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail(RulePath, fmt.Sprintf("spec.path %q is not a folder of the repository", ks.path), "create the folder or correct spec.path")
	}
	built, err := Build(abs, ks.obj)
	var be *BuildError
	switch {
	case errors.As(err, &be) && be.Generating:
		return fail(RuleBuild, fmt.Sprintf("generating the kustomization of %s: %v", ks.path, be.Err), "correct the kustomization.yaml of "+ks.path+" or the Kustomization's patches")
	case errors.As(err, &be) && be.Kustomize:
		msg := strings.ReplaceAll(be.Err.Error(), abs+string(filepath.Separator), "")
		return fail(RuleBuild, fmt.Sprintf("kustomize build of %s: %s", ks.path, msg),
			"make every file a kustomization.yaml names exist and parse, and every patch match its target")
	case err != nil:
		return fail(RuleBuild, err.Error(), "correct the object, and run validate on a readable folder")
	}
	var out []object
	for _, m := range built {
		k := keyOf(m)
		out = append(out, object{key: k, obj: m, file: t.fileOf(k, ks.path+"/"), ks: ks})
	}
	return out
}

// BuildError says which part of a build failed: the generator (the
// Kustomization's own fields), kustomize, or reading the folder.
type BuildError struct {
	Generating, Kustomize bool
	Err                   error
}

func (e *BuildError) Error() string { return e.Err.Error() }
func (e *BuildError) Unwrap() error { return e.Err }

// Build is what Flux's kustomize-controller builds for one Kustomization
// (its object, as read from the repository or the cluster) from a checkout
// at root: fluxcd/pkg/kustomize's generator (a kustomization.yaml made when
// the folder has none, the Kustomization's patches, images, prefix and
// target namespace), kept in memory so the checkout is never written, then
// the controller's kustomize options. validate and doctor's drift check
// build with it.
func Build(root string, kustomization map[string]any) ([]map[string]any, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, &BuildError{Err: err}
	}
	spec, _ := kustomization["spec"].(map[string]any)
	path, _ := spec["path"].(string)
	dir := filepath.Join(abs, filepath.FromSlash(path))
	gen := fluxkustomize.NewGenerator(abs, unstructured.Unstructured{Object: kustomization})
	manifest, kfile, _, err := gen.GenerateManifest(dir)
	if err != nil {
		return nil, &BuildError{Generating: true, Err: err}
	}
	disk, err := fluxfs.MakeFsOnDiskSecure(abs)
	if err != nil {
		return nil, &BuildError{Err: err}
	}
	mem := fluxfs.MakeFsInMemory(disk)
	if err := mem.WriteFile(kfile, manifest); err != nil {
		return nil, &BuildError{Err: err}
	}
	res, err := kustomizeBuild(mem, dir)
	if err != nil {
		return nil, &BuildError{Kustomize: true, Err: err}
	}
	out := make([]map[string]any, 0, len(res.Resources()))
	for _, r := range res.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, &BuildError{Err: fmt.Errorf("encoding a built object of %s: %w", path, err)}
		}
		var m map[string]any
		if err := utiljson.Unmarshal(data, &m); err != nil {
			return nil, &BuildError{Err: fmt.Errorf("decoding a built object of %s: %w", path, err)}
		}
		out = append(out, m)
	}
	return out, nil
}

// kustomizeBuild is fluxkustomize.Build without its reset of kyaml's global OpenAPI schema
// before every build (a third of a second each, to isolate builds that load their own schema
// with openapi.path, which the appliance's repositories never do): the same kustomizer options
// (files anywhere under the root, no plugins), the same recovery from kustomize's panics.
func kustomizeBuild(fsys filesys.FileSystem, dir string) (res resmap.ResMap, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	return k.Run(fsys, dir)
}

// buildMu: kustomize's builds share global maps (kubernetes-sigs/kustomize#3659).
var buildMu sync.Mutex

// checkDependsOn: every dependsOn names a Kustomization of the tree, and none waits on itself.
func checkDependsOn(all []*kustomization, rep *Report) {
	byID := map[string]*kustomization{}
	for _, k := range all {
		byID[k.id()] = k
	}
	deps := map[string][]string{}
	for _, k := range all {
		spec, _ := k.obj["spec"].(map[string]any)
		list, _ := spec["dependsOn"].([]any)
		for _, d := range list {
			dm, _ := d.(map[string]any)
			name, _ := dm["name"].(string)
			ns, _ := dm["namespace"].(string)
			if ns == "" {
				ns = k.key.namespace
			}
			id := ns + "/" + name
			if _, ok := byID[id]; !ok {
				rep.add(Finding{File: k.file, Object: k.key.String(), Rule: RuleDependsOnMissing,
					Message: fmt.Sprintf("dependsOn names Kustomization %s, which the repository does not define", id),
					Fix:     "correct the name (Kustomizations: " + strings.Join(ids(all), ", ") + ") or remove the entry"})
				continue
			}
			deps[k.id()] = append(deps[k.id()], id)
		}
	}
	// Depth-first search; a grey node met again closes a cycle.
	const white, grey, black = 0, 1, 2
	color := map[string]int{}
	reported := map[string]bool{}
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		for _, d := range deps[id] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), d)
				members := append([]string(nil), stack[i:]...)
				sort.Strings(members)
				if key := strings.Join(members, ","); !reported[key] {
					reported[key] = true
					k := byID[d]
					rep.add(Finding{File: k.file, Object: k.key.String(), Rule: RuleDependsOnCycle,
						Message: "dependsOn forms a cycle: " + strings.Join(cycle, " → ") + "; Flux never applies any of them",
						Fix:     "remove one dependsOn entry of the cycle"})
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, k := range all {
		if color[k.id()] == white {
			visit(k.id())
		}
	}
}

func ids(all []*kustomization) []string {
	out := make([]string, len(all))
	for i, k := range all {
		out[i] = k.id()
	}
	return out
}
