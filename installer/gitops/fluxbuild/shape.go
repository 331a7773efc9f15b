package fluxbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// argContract are the container argument positions install.Generate's kustomization template
// (flux2 pkg/manifestgen/install/templates.go) replaces blindly by index: a manifest whose
// arguments sit elsewhere would be silently corrupted by the template.
var argContract = map[string]map[int]string{
	"source-controller":       {0: "--events-addr=", 1: "--watch-all-namespaces", 2: "--log-level=", 6: "--storage-adv-addr="},
	"kustomize-controller":    {0: "--events-addr=", 1: "--watch-all-namespaces", 2: "--log-level="},
	"notification-controller": {0: "--watch-all-namespaces", 1: "--log-level="},
}

// CheckShape checks a folder of install manifests (fsys) against the expectations of the flux2
// module in flux2Dir, and returns every difference found.
func CheckShape(fsys fs.FS, flux2Dir string) error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	pins, err := PinnedControllers(flux2Dir, Components)
	if err != nil {
		return err
	}
	if prov, err := ReadProvenance(fsys); err != nil {
		fail("%v", err)
	} else {
		for _, c := range prov.Controllers {
			if pins[c.Name] != "" && c.Tag != pins[c.Name] {
				fail("%s: provenance says %s, flux2 pins %s", c.Name, c.Tag, pins[c.Name])
			}
		}
	}
	crdPins, err := crdReleasePins(flux2Dir)
	if err != nil {
		return err
	}
	for _, c := range Components {
		if v := crdPins[c]; v != pins[c] {
			fail("%s: flux2 manifests/crds pins %q but its base pins %q", c, v, pins[c])
		}
		objs, err := decodeFile(fsys, c+".yaml")
		if err != nil {
			fail("%v", err)
			continue
		}
		if err := checkComponent(flux2Dir, c, pins[c], objs); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range Files {
		objs, err := decodeFile(fsys, f)
		if err != nil {
			fail("%v", err)
			continue
		}
		want, err := rawObjects(filepath.Join(flux2Dir, "manifests", strings.TrimSuffix(f, ".yaml")))
		if err != nil {
			return err
		}
		if got := ids(objs); !reflect.DeepEqual(got, want) {
			fail("%s holds %v, flux2's sources define %v", f, got, want)
		}
	}
	return errors.Join(errs...)
}

func decodeFile(fsys fs.FS, name string) ([]*unstructured.Unstructured, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	objs, err := cluster.DecodeObjects(data)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	return objs, nil
}

// crdReleasePins reads flux2's manifests/crds kustomization: the CRD release of every controller.
func crdReleasePins(flux2Dir string) (map[string]string, error) {
	k, err := readKustomization(filepath.Join(flux2Dir, "manifests", "crds", "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range k.Resources {
		if m := releaseURL.FindStringSubmatch(r); m != nil && m[4] == "crds" {
			out[m[1]] = m[2]
		}
	}
	return out, nil
}

func checkComponent(flux2Dir, c, tag string, objs []*unstructured.Unstructured) error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.yaml: "+format, append([]any{c}, a...)...))
	}
	base := filepath.Join(flux2Dir, "manifests", "bases", c)

	var dep *unstructured.Unstructured
	crds := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			if o.GetName() != c || dep != nil {
				fail("unexpected Deployment %s", o.GetName())
			}
			dep = o
		case "CustomResourceDefinition":
			crds++
			if g, _, _ := unstructured.NestedString(o.Object, "spec", "group"); !strings.HasSuffix(g, ".toolkit.fluxcd.io") {
				fail("CRD %s has group %q, not a Flux toolkit group", o.GetName(), g)
			}
		}
	}
	if crds == 0 {
		fail("no CustomResourceDefinition")
	}
	if dep == nil {
		fail("no Deployment %s", c)
		return errors.Join(errs...)
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		fail("Deployment %s has no container", c)
		return errors.Join(errs...)
	}
	manager, _ := containers[0].(map[string]any)
	if manager["name"] != "manager" {
		fail("first container is %v, not manager", manager["name"])
	}
	if want := "fluxcd/" + c + ":" + tag; manager["image"] != want {
		fail("image %v, want %s", manager["image"], want)
	}
	args, _, _ := unstructured.NestedStringSlice(manager, "args")
	for i, prefix := range argContract[c] {
		if i >= len(args) || !strings.HasPrefix(args[i], prefix) {
			fail("args[%d] is not %s... (install.Generate replaces it by position): %v", i, prefix, args)
		}
	}

	// account.yaml: the service accounts of the base.
	accounts, err := rawObjects(filepath.Join(base, "account.yaml"))
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range ids(objs) {
		have[id] = true
	}
	for _, id := range accounts {
		if !have[id] {
			fail("lacks %s from flux2's base", id)
		}
	}

	// labels.yaml: every object and the pod template carry the base's labels.
	var lt struct {
		Labels map[string]string `json:"labels"`
	}
	if err := readYAML(filepath.Join(base, "labels.yaml"), &lt); err != nil {
		return err
	}
	for _, o := range objs {
		for k, v := range lt.Labels {
			if o.GetLabels()[k] != v {
				fail("%s %s lacks label %s=%s", o.GetKind(), o.GetName(), k, v)
			}
		}
	}
	podLabels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	for k, v := range lt.Labels {
		if podLabels[k] != v {
			fail("pod template lacks label %s=%s", k, v)
		}
	}

	// patch.yaml: every JSON patch of the base took effect.
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := readYAML(filepath.Join(base, "patch.yaml"), &ops); err != nil {
		return err
	}
	podSpec, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	for _, op := range ops {
		if op.Op != "add" {
			fail("patch op %s %s is not understood by this check: extend it", op.Op, op.Path)
			continue
		}
		rest, ok := strings.CutPrefix(op.Path, "/spec/template/spec/")
		if !ok {
			fail("patch path %s is not understood by this check: extend it", op.Path)
			continue
		}
		switch {
		case rest == "containers/0/env/-":
			env, _, _ := unstructured.NestedSlice(manager, "env")
			if !containsDeep(env, op.Value) {
				fail("env lacks %v (patch %s)", op.Value, op.Path)
			}
		case strings.HasPrefix(rest, "containers/0/args/"):
			i, err := strconv.Atoi(strings.TrimPrefix(rest, "containers/0/args/"))
			if err != nil || i >= len(args) || args[i] != op.Value {
				fail("args lack %v at %s: %v", op.Value, op.Path, args)
			}
		case !strings.Contains(rest, "/"):
			if !reflect.DeepEqual(podSpec[rest], op.Value) {
				fail("pod spec %s is %v, patch sets %v", rest, podSpec[rest], op.Value)
			}
		default:
			fail("patch path %s is not understood by this check: extend it", op.Path)
		}
	}
	return errors.Join(errs...)
}

func containsDeep(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// rawObjects lists "Kind/name" of the objects in a file, or in every resource file a folder's
// kustomization.yaml lists.
func rawObjects(path string) ([]string, error) {
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		k, err := readKustomization(filepath.Join(path, "kustomization.yaml"))
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, r := range k.Resources {
			files = append(files, filepath.Join(path, r))
		}
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		objs, err := cluster.DecodeObjects(data)
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", f, err)
		}
		out = append(out, objs...)
	}
	return ids(out), nil
}

func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}
