package airgap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// FormatVersion is the bundle format this binary writes and reads.
const FormatVersion = 1

// Names of the two leading archive entries.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// Limits on the leading entries: both are read into memory before anything
// else, so a hostile bundle must not make them large.
const (
	maxManifestSize  = 16 << 20
	maxSignatureSize = 4 << 10
)

// File kinds, one per top-level folder of a bundle.
const (
	KindK3sBinary = "k3s-binary"
	KindK3sImages = "k3s-images"
	KindImage     = "image"
	KindChart     = "chart"
	KindFlux      = "flux"
)

// Manifest is manifest.json: what the bundle is and every file it holds, in
// archive order.
type Manifest struct {
	FormatVersion int    `json:"formatVersion"`
	Train         string `json:"train"`
	Arch          string `json:"arch"`
	// Created is when the bundle was built; also every entry's mtime.
	Created time.Time `json:"created"`
	// Builder names the binary that built the bundle, e.g. "docs-appliance v1.2.0".
	Builder string `json:"builder,omitempty"`
	// KeyID names the key whose signature manifest.sig holds; empty when the
	// bundle is unsigned. Being inside the signed bytes, it cannot be swapped.
	KeyID string `json:"keyID,omitempty"`
	// PinnedAtBuild lists the train fields that were unpinned and that the
	// build filled from what the registries and servers served (--pin-unlocked).
	PinnedAtBuild []string `json:"pinnedAtBuild,omitempty"`
	// Spec is the full train as pinned: every digest the files were checked against.
	Spec bundles.Train `json:"spec"`
	// Files are every file after the two leading entries, in archive order.
	Files []File `json:"files"`
}

// File is one file of the bundle.
type File struct {
	// Path is slash-separated and relative, under k3s/, images/, charts/ or flux/.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Executable files are unpacked 0755, others 0644; archive modes are ignored.
	Executable bool   `json:"executable,omitempty"`
	Kind       string `json:"kind"`
	// Image is the pinned reference (repository:tag@sha256:...) an image file holds.
	Image string `json:"image,omitempty"`
	// Source says where the build took the file from (URL or reference).
	Source string `json:"source,omitempty"`
}

// UnpackedSize is the sum of every file's size.
func (m *Manifest) UnpackedSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// File returns the manifest entry with the given path.
func (m *Manifest) File(p string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// Images returns the image files, in train order.
func (m *Manifest) Images() []File {
	var out []File
	for _, f := range m.Files {
		if f.Kind == KindImage {
			out = append(out, f)
		}
	}
	return out
}

// FileName is the bundle's conventional file name.
func FileName(train, arch string) string {
	return "docs-appliance-" + train + "-" + arch + ".tar.zst"
}

// BundleDir is where Import puts a train's bundle for one architecture:
// <stateDir>/bundles/<train>-<arch>/, holding manifest.json, manifest.sig
// (when signed), k3s/, images/, charts/ and flux/. The k3s step takes
// k3s/k3s, k3s/*.tar.zst and images/*.tar from there and the chart store is
// bundles.DirStore(filepath.Join(BundleDir(...), "charts")).
func BundleDir(stateDir, train, arch string) string {
	return filepath.Join(bundlesRoot(stateDir), train+"-"+arch)
}

func bundlesRoot(stateDir string) string { return filepath.Join(stateDir, "bundles") }

// K3sBinaryPath and friends name the fixed files of a bundle folder.
const (
	K3sBinaryPath = "k3s/k3s"
	ImagesDir     = "images"
	ChartsDir     = "charts"
	FluxDir       = "flux"
)

// K3sImagesPath is the k3s airgap images archive for an architecture.
func K3sImagesPath(arch string) string { return "k3s/k3s-airgap-images-" + arch + ".tar.zst" }

// ChartPath is where a chart sits in a bundle.
func ChartPath(c bundles.Chart) string { return ChartsDir + "/" + c.FileName() }

var unsafeNameChar = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ImagePath is where an image's archive sits in a bundle: the reference with
// every character outside [A-Za-z0-9._-] turned into "_", e.g.
// images/docker.io_lasuite_impress-backend_v5.4.1.tar.
func ImagePath(im bundles.Image) string {
	return ImagesDir + "/" + unsafeNameChar.ReplaceAllString(im.Reference, "_") + ".tar"
}

var (
	safeElem = regexp.MustCompile(`^[A-Za-z0-9_+@=-][A-Za-z0-9._+@=-]*$`)
	hexSHA   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

var topForKind = map[string]string{
	KindK3sBinary: "k3s", KindK3sImages: "k3s", KindImage: ImagesDir, KindChart: ChartsDir, KindFlux: FluxDir,
}

// checkEntryPath rejects a path that could land outside the bundle folder or
// collide with the format's own names. It returns the problem, or "".
func checkEntryPath(p string) string {
	switch {
	case p == "":
		return "empty path"
	case strings.HasPrefix(p, "/"):
		return "absolute path escapes the bundle folder"
	case strings.ContainsAny(p, "\\\x00"):
		return "path holds a backslash or NUL"
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return "path escapes the bundle folder through .."
		}
	}
	if path.Clean(p) != p {
		return "path is not clean (empty, . or trailing / element)"
	}
	if len(p) > 1024 {
		return "path longer than 1024 bytes"
	}
	for _, e := range strings.Split(p, "/") {
		if len(e) > 200 || !safeElem.MatchString(e) {
			return fmt.Sprintf("path element %q is not made of [A-Za-z0-9._+@=-] or starts with a dot", e)
		}
	}
	return ""
}

// Validate checks the manifest on its own and against its train: safe and
// unique paths, a file for every artifact of the train, digests that match
// the train's pins. A bundle whose manifest passes carries a complete,
// locked train; the file bytes are checked against it while streaming.
func (m *Manifest) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if m.FormatVersion != FormatVersion {
		// Nothing else can be trusted to mean what this binary thinks.
		return fmt.Errorf("formatVersion is %d but this binary reads format %d: use the docs-appliance release that built the bundle, or rebuild the bundle with this one", m.FormatVersion, FormatVersion)
	}
	if m.Arch != "amd64" && m.Arch != "arm64" {
		add("arch %q is not amd64 or arm64", m.Arch)
	}
	if m.Train != m.Spec.Name {
		add("train %q differs from spec.name %q", m.Train, m.Spec.Name)
	}
	if err := m.Spec.Validate(); err != nil {
		add("spec: %v", err)
	}
	if missing := unlockedFor(&m.Spec, m.Arch); len(missing) > 0 {
		add("spec is not locked (%s): a bundle must pin every digest", strings.Join(missing, ", "))
	}
	if m.Created.IsZero() {
		add("created is missing")
	}
	seen := map[string]bool{}
	dirs := map[string]bool{}
	for i, f := range m.Files {
		p := fmt.Sprintf("files[%d] (%s)", i, f.Path)
		if problem := checkEntryPath(f.Path); problem != "" {
			add("%s: %s", p, problem)
			continue
		}
		if seen[f.Path] {
			add("%s: listed twice", p)
		}
		seen[f.Path] = true
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		top := strings.SplitN(f.Path, "/", 2)[0]
		if want, ok := topForKind[f.Kind]; !ok {
			add("%s: unknown kind %q", p, f.Kind)
		} else if top != want || !strings.Contains(f.Path, "/") {
			add("%s: a %s file must sit under %s/", p, f.Kind, want)
		}
		if f.Size < 0 {
			add("%s: negative size", p)
		}
		if !hexSHA.MatchString(f.SHA256) {
			add("%s: sha256 %q is not 64 lowercase hex digits", p, f.SHA256)
		}
	}
	for d := range dirs {
		if seen[d] {
			add("%s is both a file and a folder", d)
		}
	}
	errs = append(errs, m.checkAgainstSpec()...)
	if len(errs) > 0 {
		return fmt.Errorf("%d problem(s):\n  - %s", len(errs), strings.Join(errs, "\n  - "))
	}
	return nil
}

// unlockedFor lists what keeps a train from being locked for one
// architecture: the other architectures' k3s artifacts do not matter to a
// bundle that does not carry them.
func unlockedFor(t *bundles.Train, arch string) []string {
	var out []string
	for _, u := range t.Unlocked() {
		if strings.HasPrefix(u, "k3s.artifacts.") && !strings.HasPrefix(u, "k3s.artifacts."+arch+".") {
			continue
		}
		out = append(out, u)
	}
	return out
}

// checkAgainstSpec ties the file list to the train: each artifact present,
// with the pinned digest, and nothing the train does not explain.
func (m *Manifest) checkAgainstSpec() []string {
	var errs []string
	byPath := map[string]File{}
	for _, f := range m.Files {
		byPath[f.Path] = f
	}
	expected := map[string]bool{}
	want := func(p, kind, sha string) {
		expected[p] = true
		f, ok := byPath[p]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("the train needs %s but the manifest does not list it", p))
		case f.Kind != kind:
			errs = append(errs, fmt.Sprintf("%s has kind %q, want %q", p, f.Kind, kind))
		case sha != "" && f.SHA256 != sha:
			errs = append(errs, fmt.Sprintf("%s has sha256 %s but the train pins %s", p, f.SHA256, sha))
		}
	}
	if art, ok := m.Spec.K3s.Artifacts[m.Arch]; ok {
		want(K3sBinaryPath, KindK3sBinary, art.BinarySHA256)
		want(K3sImagesPath(m.Arch), KindK3sImages, art.AirgapImagesSHA256)
	} else {
		errs = append(errs, fmt.Sprintf("spec.k3s.artifacts has no %s entry", m.Arch))
	}
	for _, im := range m.Spec.Images {
		p := ImagePath(im)
		want(p, KindImage, "")
		if f, ok := byPath[p]; ok && f.Image != im.Pinned() {
			errs = append(errs, fmt.Sprintf("%s holds image %q but the train pins %q", p, f.Image, im.Pinned()))
		}
	}
	for _, c := range m.Spec.Charts {
		want(ChartPath(c), KindChart, c.SHA256)
	}
	flux := 0
	for _, f := range m.Files {
		if f.Kind == KindFlux {
			flux++
			expected[f.Path] = true
		}
	}
	if flux == 0 {
		errs = append(errs, "no flux/ file: the bundle must carry the Flux install manifests")
	}
	for _, f := range m.Files {
		if !expected[f.Path] {
			errs = append(errs, fmt.Sprintf("%s is not an artifact of train %s", f.Path, m.Spec.Name))
		}
	}
	return errs
}

// ParseManifest decodes manifest.json strictly (unknown fields are errors:
// a field this binary does not know could change what the bundle means) and
// validates it.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		// A newer format may add fields: say so before the field complaint.
		var probe struct {
			FormatVersion int    `json:"formatVersion"`
			Builder       string `json:"builder"`
		}
		if json.Unmarshal(data, &probe) == nil {
			if probe.FormatVersion > FormatVersion {
				return nil, fmt.Errorf("formatVersion is %d but this binary reads format %d: use a newer docs-appliance", probe.FormatVersion, FormatVersion)
			}
			if probe.Builder != "" && strings.Contains(err.Error(), "unknown field") {
				return nil, fmt.Errorf("decoding: %w (the bundle was built by %s, which knows fields this binary does not: use that release)", err, probe.Builder)
			}
		}
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
