package fluxbuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/kustomization"
	"sigs.k8s.io/yaml"
)

// Components are the Flux controllers the appliance runs.
var Components = []string{"source-controller", "kustomize-controller", "notification-controller"}

// Files are what install.Generate templates over, besides one <component>.yaml per component.
var Files = []string{"rbac.yaml", "policies.yaml"}

// ProvenanceFile records where the manifests of a folder came from.
const ProvenanceFile = "provenance.json"

// Substitute builds a controller version the module proxy refuses from another version.
type Substitute struct {
	Build  string // the module version built
	Reason string // why that is the same thing, for the provenance file
}

// DefaultSubstitutes are the substitutions known to be needed (Nov 2026).
var DefaultSubstitutes = map[string]Substitute{
	"github.com/fluxcd/notification-controller@v1.9.4": {
		Build: "v1.9.3",
		Reason: "v1.9.4 is refused by the Go module proxy (403); v1.9.3's api module is identical to v1.9.4's " +
			"apart from dependency bumps in go.mod/go.sum, so its CRDs are the same; the Deployment keeps the v1.9.4 image tag",
	},
}

// Options of Assemble.
type Options struct {
	// FluxVersion is the flux2 release, e.g. v2.9.5.
	FluxVersion string
	// Out receives <component>.yaml, rbac.yaml, policies.yaml and provenance.json; it is replaced
	// as a whole once everything is built.
	Out string
	// Components default to Components.
	Components []string
	// Substitutes default to DefaultSubstitutes.
	Substitutes map[string]Substitute
}

// Provenance says where a folder of manifests came from.
type Provenance struct {
	Flux        string             `json:"flux"`
	Source      string             `json:"source"` // "go modules" or "release tarball"
	Flux2Sum    string             `json:"flux2ModuleSum,omitempty"`
	Controllers []ControllerSource `json:"controllers"`
}

// ControllerSource is one controller's origin.
type ControllerSource struct {
	Name string `json:"name"`
	// Tag is the version flux2 pins (and the image tag the Deployment uses).
	Tag string `json:"tag"`
	// Built is the module version whose config was built; differs from Tag for a substitute.
	Built  string `json:"built,omitempty"`
	Sum    string `json:"moduleSum,omitempty"`
	Reason string `json:"substituteReason,omitempty"`
}

// Module is one downloaded Go module.
type Module struct {
	Dir, Sum string
}

// DownloadModule fetches a module version through the Go module proxy (or the module cache) with
// `go mod download`, outside any module so nothing's go.mod changes.
func DownloadModule(ctx context.Context, path, version string) (Module, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var res struct{ Dir, Sum, Error string }
	if jerr := json.Unmarshal(out, &res); jerr != nil && err == nil {
		err = jerr
	}
	if res.Error != "" {
		return Module{}, fmt.Errorf("downloading module %s@%s: %s", path, version, res.Error)
	}
	if err != nil {
		return Module{}, fmt.Errorf("downloading module %s@%s: %w", path, version, err)
	}
	return Module{Dir: res.Dir, Sum: res.Sum}, nil
}

// releaseURL matches a controller release asset in flux2's base kustomizations.
var releaseURL = regexp.MustCompile(`^https://github\.com/fluxcd/([a-z-]+)/releases/download/(v[0-9][^/]*)/([a-z-]+)\.(crds|deployment)\.yaml$`)

// PinnedControllers reads the controller versions flux2 pins from its base kustomizations.
func PinnedControllers(flux2Dir string, components []string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range components {
		k, err := readKustomization(filepath.Join(flux2Dir, "manifests", "bases", c, "kustomization.yaml"))
		if err != nil {
			return nil, err
		}
		for _, r := range k.Resources {
			m := releaseURL.FindStringSubmatch(r)
			if m == nil || m[1] != c || m[3] != c {
				continue
			}
			if v, ok := out[c]; ok && v != m[2] {
				return nil, fmt.Errorf("flux2 base %s pins two versions: %s and %s", c, v, m[2])
			}
			out[c] = m[2]
		}
		if out[c] == "" {
			return nil, fmt.Errorf("flux2 base %s references no %s release assets", c, c)
		}
	}
	return out, nil
}

type kustomizationFile struct {
	Resources []string `json:"resources"`
}

func readKustomization(path string) (*kustomizationFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var k kustomizationFile
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &k, nil
}

// Assemble builds the install manifests of a Flux release from Go modules into o.Out.
func Assemble(ctx context.Context, o Options) (*Provenance, error) {
	if o.Components == nil {
		o.Components = Components
	}
	if o.Substitutes == nil {
		o.Substitutes = DefaultSubstitutes
	}
	flux2, err := DownloadModule(ctx, "github.com/fluxcd/flux2/v2", o.FluxVersion)
	if err != nil {
		return nil, err
	}
	pins, err := PinnedControllers(flux2.Dir, o.Components)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "flux-manifests-")
	if err != nil {
		return nil, fmt.Errorf("making a work folder: %w", err)
	}
	defer os.RemoveAll(work)
	stage := filepath.Join(work, "out")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, fmt.Errorf("making %s: %w", stage, err)
	}

	prov := &Provenance{Flux: o.FluxVersion, Source: "go modules", Flux2Sum: flux2.Sum}
	for _, c := range o.Components {
		src, err := assembleComponent(ctx, flux2.Dir, work, stage, c, pins[c], o.Substitutes)
		if err != nil {
			return nil, fmt.Errorf("assembling %s %s: %w", c, pins[c], err)
		}
		prov.Controllers = append(prov.Controllers, src)
	}
	for _, f := range Files {
		dir := filepath.Join(flux2.Dir, "manifests", strings.TrimSuffix(f, ".yaml"))
		data, err := kustomization.BuildWithRoot(flux2.Dir, dir)
		if err != nil {
			return nil, fmt.Errorf("building flux2 manifests/%s: %w", filepath.Base(dir), err)
		}
		if err := os.WriteFile(filepath.Join(stage, f), data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f, err)
		}
	}
	if err := writeProvenance(stage, prov); err != nil {
		return nil, err
	}
	if err := replaceDir(stage, o.Out); err != nil {
		return nil, err
	}
	return prov, nil
}

// assembleComponent builds <c>.crds.yaml and <c>.deployment.yaml as the controller's release does,
// then flux2's base over them, into stage/<c>.yaml.
func assembleComponent(ctx context.Context, flux2Dir, work, stage, c, tag string, subs map[string]Substitute) (ControllerSource, error) {
	src := ControllerSource{Name: c, Tag: tag, Built: tag}
	mod := "github.com/fluxcd/" + c
	if s, ok := subs[mod+"@"+tag]; ok {
		src.Built, src.Reason = s.Build, s.Reason
	}
	m, err := DownloadModule(ctx, mod, src.Built)
	if err != nil {
		return src, err
	}
	src.Sum = m.Sum

	// The module cache is read-only: build from a copy (os.CopyFS makes writable files), with the
	// image tag set to the pin.
	cfg := filepath.Join(work, c+"-config")
	if err := os.CopyFS(cfg, os.DirFS(filepath.Join(m.Dir, "config"))); err != nil {
		return src, fmt.Errorf("copying %s config: %w", c, err)
	}
	if err := setImageTag(filepath.Join(cfg, "manager", "kustomization.yaml"), "fluxcd/"+c, tag, src.Built); err != nil {
		return src, err
	}
	crds, err := kustomization.BuildWithRoot(cfg, filepath.Join(cfg, "crd"))
	if err != nil {
		return src, fmt.Errorf("building %s config/crd: %w", c, err)
	}
	deployment, err := kustomization.BuildWithRoot(cfg, filepath.Join(cfg, "manager"))
	if err != nil {
		return src, fmt.Errorf("building %s config/manager: %w", c, err)
	}

	base := filepath.Join(work, "bases", c)
	if err := os.CopyFS(base, os.DirFS(filepath.Join(flux2Dir, "manifests", "bases", c))); err != nil {
		return src, fmt.Errorf("copying flux2 base %s: %w", c, err)
	}
	kfile := filepath.Join(base, "kustomization.yaml")
	kdata, err := os.ReadFile(kfile)
	if err != nil {
		return src, fmt.Errorf("reading flux2 base %s: %w", c, err)
	}
	local := map[string][]byte{c + ".crds.yaml": crds, c + ".deployment.yaml": deployment}
	for name, data := range local {
		url := fmt.Sprintf("https://github.com/fluxcd/%s/releases/download/%s/%s", c, tag, name)
		if !bytes.Contains(kdata, []byte(url)) {
			return src, fmt.Errorf("flux2 base %s does not reference %s", c, url)
		}
		kdata = bytes.ReplaceAll(kdata, []byte(url), []byte(name))
		if err := os.WriteFile(filepath.Join(base, name), data, 0o644); err != nil {
			return src, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := os.WriteFile(kfile, kdata, 0o644); err != nil {
		return src, fmt.Errorf("writing the local base of %s: %w", c, err)
	}
	out, err := kustomization.BuildWithRoot(filepath.Join(work, "bases"), base)
	if err != nil {
		return src, fmt.Errorf("building flux2 base %s: %w", c, err)
	}
	if err := os.WriteFile(filepath.Join(stage, c+".yaml"), out, 0o644); err != nil {
		return src, fmt.Errorf("writing %s.yaml: %w", c, err)
	}
	if src.Built == src.Tag {
		src.Built = ""
	}
	return src, nil
}

// setImageTag pins the controller image's newTag in config/manager/kustomization.yaml to tag. The
// module's own release commit already sets it: for an unsubstituted build it must equal tag, which
// proves the module is the release flux2 pins.
func setImageTag(path, image, tag, built string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	imgs, _ := k["images"].([]any)
	found := false
	for _, i := range imgs {
		im, _ := i.(map[string]any)
		if im["name"] != image {
			continue
		}
		found = true
		if have, _ := im["newTag"].(string); have != built {
			return fmt.Errorf("%s pins %s:%s, not the module version %s", path, image, have, built)
		}
		im["newTag"] = tag
	}
	if !found {
		return fmt.Errorf("%s sets no image %s", path, image)
	}
	out, err := yaml.Marshal(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func writeProvenance(dir string, p *Provenance) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ProvenanceFile), append(data, '\n'), 0o644)
}

// ReadProvenance reads a folder's provenance file.
func ReadProvenance(fsys fs.FS) (*Provenance, error) {
	data, err := fs.ReadFile(fsys, ProvenanceFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ProvenanceFile, err)
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", ProvenanceFile, err)
	}
	return &p, nil
}

// FromTarball takes the install manifests from a release's manifests.tar.gz (a connected
// release build downloads it from https://github.com/fluxcd/flux2/releases/download/<v>/manifests.tar.gz
// and checks its checksum first) into out. flux2Dir, when given, supplies the controller pins for
// the provenance file.
func FromTarball(tarball, fluxVersion, flux2Dir, out string) (*Provenance, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", tarball, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tarball, err)
	}
	want := map[string]bool{}
	for _, c := range Components {
		want[c+".yaml"] = true
	}
	for _, n := range Files {
		want[n] = true
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), ".flux-manifests-")
	if err != nil {
		return nil, fmt.Errorf("making a staging folder: %w", err)
	}
	defer os.RemoveAll(stage)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tarball, err)
		}
		name := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !want[name] {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", name, tarball, err)
		}
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o644); err != nil {
			return nil, err
		}
		delete(want, name)
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("%s lacks %s", tarball, strings.Join(missing, ", "))
	}
	prov := &Provenance{Flux: fluxVersion, Source: "release tarball"}
	if flux2Dir != "" {
		pins, err := PinnedControllers(flux2Dir, Components)
		if err != nil {
			return nil, err
		}
		for _, c := range Components {
			prov.Controllers = append(prov.Controllers, ControllerSource{Name: c, Tag: pins[c]})
		}
	}
	if err := writeProvenance(stage, prov); err != nil {
		return nil, err
	}
	return prov, replaceDir(stage, out)
}

// replaceDir moves stage to out, replacing what was there.
func replaceDir(stage, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", filepath.Dir(out), err)
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("removing the old %s: %w", out, err)
	}
	if err := os.Rename(stage, out); err == nil {
		return nil
	}
	// Across file systems: copy.
	if err := os.CopyFS(out, os.DirFS(stage)); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}
