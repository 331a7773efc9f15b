package fluxbuild

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// generated is the folder `make flux-manifests` fills for the Flux release of the trains.
const generated = "../manifests/v2.9.5"

func flux2Dir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/fluxcd/flux2/v2").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("finding the flux2 module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func manifests(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, f := range append(append([]string{}, Files...), ProvenanceFile, "source-controller.yaml", "kustomize-controller.yaml", "notification-controller.yaml") {
		data, err := os.ReadFile(filepath.Join(generated, f))
		if errors.Is(err, os.ErrNotExist) {
			kit.Unavailable(t, "the Flux install manifests ("+filepath.Join(generated, f)+")", "run `make flux-manifests`")
		}
		if err != nil {
			t.Fatal(err)
		}
		fsys[f] = &fstest.MapFile{Data: data}
	}
	return fsys
}

func TestGeneratedManifestsHaveTheShapeFlux2Expects(t *testing.T) {
	fsys := manifests(t)
	if err := CheckShape(fsys, flux2Dir(t)); err != nil {
		t.Fatal(err)
	}
	prov, err := ReadProvenance(fsys)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, c := range prov.Controllers {
		tags[c.Name] = c.Tag
	}
	// The versions flux2 v2.9.5 pins (manifests/bases/*/kustomization.yaml), as the train says.
	want := map[string]string{"source-controller": "v1.9.5", "kustomize-controller": "v1.9.5", "notification-controller": "v1.9.4"}
	for c, v := range want {
		if tags[c] != v {
			t.Errorf("%s: %s, want %s", c, tags[c], v)
		}
	}
}

// TestCheckShapeCatchesDrift breaks the manifests in the ways an assembly could go wrong and
// expects the check to name each.
func TestCheckShapeCatchesDrift(t *testing.T) {
	dir := flux2Dir(t)
	for name, tc := range map[string]struct {
		file, old, new, want string
	}{
		"wrong image tag": {"kustomize-controller.yaml", "image: fluxcd/kustomize-controller:v1.9.5", "image: fluxcd/kustomize-controller:v1.9.4", "image fluxcd/kustomize-controller:v1.9.4, want fluxcd/kustomize-controller:v1.9.5"},
		"argument moved":  {"source-controller.yaml", "- --storage-path=/data\n", "", "args[6] is not --storage-adv-addr="},
		"patch lost":      {"source-controller.yaml", "priorityClassName: system-cluster-critical", "priorityClassName: low", "pod spec priorityClassName"},
		"account lost":    {"notification-controller.yaml", "kind: ServiceAccount", "kind: ConfigMap", "lacks ServiceAccount/notification-controller"},
		"label lost":      {"kustomize-controller.yaml", "app.kubernetes.io/component: kustomize-controller", "app.kubernetes.io/component: other", "lacks label app.kubernetes.io/component=kustomize-controller"},
		"rbac object":     {"rbac.yaml", "name: flux-view", "name: flux-look", "rbac.yaml holds"},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := manifests(t)
			data := string(fsys[tc.file].Data)
			if !strings.Contains(data, tc.old) {
				t.Fatalf("%s does not contain %q", tc.file, tc.old)
			}
			fsys[tc.file] = &fstest.MapFile{Data: []byte(strings.Replace(data, tc.old, tc.new, 1))}
			err := CheckShape(fsys, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestPinnedControllersReadFlux2Bases(t *testing.T) {
	pins, err := PinnedControllers(flux2Dir(t), Components)
	if err != nil {
		t.Fatal(err)
	}
	if pins["notification-controller"] != "v1.9.4" || pins["source-controller"] != "v1.9.5" {
		t.Fatalf("pins %v", pins)
	}
}

// controllerModulesCached ends the test through kit.Unavailable when a controller module the
// assembly builds is not in the module cache (make flux-manifests puts them there): only then is
// an assembly error the kit missing rather than a failure.
func controllerModulesCached(t *testing.T) {
	t.Helper()
	pins, err := PinnedControllers(flux2Dir(t), Components)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("asking go for its module cache: %v", err)
	}
	for c, tag := range pins {
		mod, v := "github.com/fluxcd/"+c, tag
		if s, ok := DefaultSubstitutes[mod+"@"+tag]; ok {
			v = s.Build
		}
		zip := filepath.Join(strings.TrimSpace(string(cache)), "cache", "download", mod, "@v", v+".zip")
		kit.File(t, zip, "the module "+mod+"@"+v+" in the module cache", "run `make flux-manifests` (downloads it from the Go module proxy)")
	}
}

// TestAssembleFromModules runs the whole assembly when the controller modules are in the module
// cache (make flux-manifests put them there), and compares it with the generated folder.
func TestAssembleFromModules(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the assembly builds every controller's manifests from the module cache")
	}
	fsys := manifests(t)
	controllerModulesCached(t)
	out := filepath.Join(t.TempDir(), "v2.9.5")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOPROXY", "off") // the cache or nothing: a test never reaches for the network
	if _, err := Assemble(context.Background(), Options{FluxVersion: "v2.9.5", Out: out}); err != nil {
		t.Fatal(err)
	}
	for name, f := range fsys {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(f.Data) {
			t.Errorf("%s differs from the generated one: assembly is not reproducible", name)
		}
	}
}
