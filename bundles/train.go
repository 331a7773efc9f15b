package bundles

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

//go:embed trains/*.yaml
var embeddedTrains embed.FS

// Train is one release: every artifact an appliance of that release runs,
// pinned by version and digest.
type Train struct {
	// Name is the train's identity, e.g. "2026.11".
	Name string `json:"name"`
	// Description says what the train brings, for `trains` and `upgrade --plan`.
	Description string `json:"description,omitempty"`
	// K3s is the Kubernetes distribution the appliance provisions.
	K3s K3s `json:"k3s"`
	// Kubernetes is the range of API server versions the train's charts
	// support, used when installing onto an existing cluster.
	Kubernetes KubernetesRange `json:"kubernetes"`
	// Flux pins the GitOps engine.
	Flux Flux `json:"flux"`
	// Docs is the application release.
	Docs Docs `json:"docs"`
	// Charts are the Helm charts rendered into the desired state.
	Charts []Chart `json:"charts"`
	// Images are every container image the appliance runs, pinned by digest.
	Images []Image `json:"images"`
	// UpgradesFrom lists the trains an appliance may upgrade from directly.
	UpgradesFrom []string `json:"upgradesFrom,omitempty"`
	// RequiredStops lists trains an upgrade to this one must have passed through.
	RequiredStops []string `json:"requiredStops,omitempty"`
	// Irreversible lists what the upgrade into this train cannot undo (a
	// database migration, a PostgreSQL major): past it, the way back is a
	// restore. The catalog refuses a train that leaves out one its version
	// changes imply (irreversible.go).
	Irreversible []Irreversible `json:"irreversible,omitempty"`
}

// K3s pins the k3s release and its per-architecture artifacts.
type K3s struct {
	Version   string                  `json:"version"`
	Artifacts map[string]K3sArtifacts `json:"artifacts"`
}

// K3sArtifacts are the files of one architecture, with their sha256.
type K3sArtifacts struct {
	BinaryURL          string `json:"binaryURL"`
	BinarySHA256       string `json:"binarySHA256,omitempty"`
	AirgapImagesURL    string `json:"airgapImagesURL"`
	AirgapImagesSHA256 string `json:"airgapImagesSHA256,omitempty"`
}

// KubernetesRange bounds the Kubernetes minor versions a train supports.
type KubernetesRange struct {
	// MinVersion and MaxVersion are "1.<minor>" inclusive bounds.
	MinVersion string `json:"minVersion"`
	MaxVersion string `json:"maxVersion"`
}

// Flux pins the Flux distribution and the controllers the appliance runs.
type Flux struct {
	Version     string            `json:"version"`
	Controllers map[string]string `json:"controllers"`
}

// Docs pins the La Suite Docs release.
type Docs struct {
	Version string `json:"version"`
}

// Chart is one pinned Helm chart.
type Chart struct {
	// Name is the chart's name as in its Chart.yaml.
	Name string `json:"name"`
	// Component is the appliance component the chart renders into
	// (infrastructure/<component>/); defaults to Name.
	Component string `json:"component,omitempty"`
	// Layer is the Flux Kustomization the chart belongs to: operators
	// (default), platform, apps, observability or policy.
	Layer string `json:"layer,omitempty"`
	// Namespace the chart's objects go to; defaults to the component name.
	Namespace string `json:"namespace,omitempty"`
	// Repository is an https Helm repository URL or an oci:// reference
	// of the chart without its version.
	Repository string `json:"repository"`
	Version    string `json:"version"`
	// Manifests, for a component published only as plain YAML files (the
	// Keycloak operator's CRDs), are the https URLs of those files: the
	// chart is packaged from them, deterministically, under crds/.
	Manifests []string `json:"manifests,omitempty"`
	// SHA256 of the packaged .tgz; empty while the train is unlocked.
	SHA256 string `json:"sha256,omitempty"`
	// AppVersion is the appVersion of the packaged chart's Chart.yaml and
	// Subcharts the charts packaged inside it: `make lock` records them
	// from the archive, and lock, `make charts` and the release gate check
	// them and every image linked to the chart against the archive.
	AppVersion string     `json:"appVersion,omitempty"`
	Subcharts  []Subchart `json:"subcharts,omitempty"`
}

// Image is one pinned container image.
type Image struct {
	// Reference is repository:tag, e.g. docker.io/lasuite/impress-backend:v5.4.1.
	Reference string `json:"reference"`
	// Digest is sha256:<hex>; empty while the train is unlocked.
	Digest string `json:"digest,omitempty"`
	// Chart links the image to the chart whose release it is: a chart's
	// name, or name/subchart (kube-prometheus-stack/grafana). Its tag must
	// then be that chart's appVersion, unless AppVersionMismatch says why
	// the train runs another release.
	Chart              string `json:"chart,omitempty"`
	AppVersionMismatch string `json:"appVersionMismatch,omitempty"`
	// Size is the image's compressed size in bytes (its layers), when
	// recorded: upgrade --plan sums the new images' sizes for its disk
	// gate and says so when one is missing.
	Size int64 `json:"size,omitempty"`
}

// Pinned returns the reference pinned by digest when the digest is known
// (repository:tag@sha256:...), or the plain reference otherwise.
func (i Image) Pinned() string {
	if i.Digest == "" {
		return i.Reference
	}
	return i.Reference + "@" + i.Digest
}

// Repository returns the image reference without its tag.
func (i Image) Repository() string {
	ref := i.Reference
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon]
	}
	return ref
}

// Tag returns the image's tag, or "" when it has none.
func (i Image) Tag() string {
	ref := i.Reference
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[colon+1:]
	}
	return ""
}

// ComponentName returns the component a chart renders into.
func (c Chart) ComponentName() string {
	if c.Component != "" {
		return c.Component
	}
	return c.Name
}

// Layers a chart may belong to, in the order Flux applies them.
var Layers = []string{"operators", "platform", "apps", "observability", "policy"}

// LayerName returns the chart's layer, operators by default.
func (c Chart) LayerName() string {
	if c.Layer != "" {
		return c.Layer
	}
	return "operators"
}

// NamespaceName returns the namespace the chart's objects go to.
func (c Chart) NamespaceName() string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return c.ComponentName()
}

// FileName is the name of the packaged chart in a chart store.
func (c Chart) FileName() string { return c.Name + "-" + c.Version + ".tgz" }

// Unlocked lists what keeps the train from being locked: every chart or
// image or k3s artifact without a digest. Render accepts an unlocked train;
// install refuses it.
func (t *Train) Unlocked() []string {
	var missing []string
	arches := make([]string, 0, len(t.K3s.Artifacts))
	for a := range t.K3s.Artifacts {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, a := range arches {
		art := t.K3s.Artifacts[a]
		if art.BinarySHA256 == "" {
			missing = append(missing, fmt.Sprintf("k3s.artifacts.%s.binarySHA256", a))
		}
		if art.AirgapImagesSHA256 == "" {
			missing = append(missing, fmt.Sprintf("k3s.artifacts.%s.airgapImagesSHA256", a))
		}
	}
	for i, c := range t.Charts {
		if c.SHA256 == "" {
			missing = append(missing, fmt.Sprintf("charts[%d].sha256 (%s %s)", i, c.Name, c.Version))
		}
	}
	for i, im := range t.Images {
		if im.Digest == "" {
			missing = append(missing, fmt.Sprintf("images[%d].digest (%s)", i, im.Reference))
		}
	}
	return missing
}

// Locked reports whether every artifact of the train is pinned by digest.
func (t *Train) Locked() bool { return len(t.Unlocked()) == 0 }

// Chart returns the train's chart with the given name.
func (t *Train) Chart(name string) (Chart, bool) {
	for _, c := range t.Charts {
		if c.Name == name {
			return c, true
		}
	}
	return Chart{}, false
}

// ImageFor returns the train's image whose repository (without tag) ends
// with the given suffix, e.g. "lasuite/impress-backend".
func (t *Train) ImageFor(repoSuffix string) (Image, bool) {
	for _, im := range t.Images {
		r := im.Repository()
		if r == repoSuffix || strings.HasSuffix(r, "/"+repoSuffix) {
			return im, true
		}
	}
	return Image{}, false
}

var (
	trainNameRe = regexp.MustCompile(`^[0-9]{4}\.[0-9]{2}(\.[0-9]+)?$`)
	semverRe    = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
	sha256Re    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	digestRe    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	k8sMinorRe  = regexp.MustCompile(`^1\.[0-9]+$`)
	dns1123Re   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	imageRefRe  = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// FieldError is one bad field of a train or config: where, what is wrong,
// and how to fix it.
type FieldError struct {
	Path    string
	Problem string
	Fix     string
}

func (e FieldError) Error() string {
	if e.Fix == "" {
		return fmt.Sprintf("%s: %s", e.Path, e.Problem)
	}
	return fmt.Sprintf("%s: %s (fix: %s)", e.Path, e.Problem, e.Fix)
}

// ValidationError gathers every bad field found at once.
type ValidationError struct {
	// Subject names what was validated, e.g. "train 2026.11".
	Subject string
	Fields  []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s has %d invalid field(s):", e.Subject, len(e.Fields))
	for _, f := range e.Fields {
		b.WriteString("\n  - ")
		b.WriteString(f.Error())
	}
	return b.String()
}

// Validate checks every field of the train and reports all problems at once.
func (t *Train) Validate() error {
	var errs []FieldError
	add := func(p, problem, fix string) { errs = append(errs, FieldError{p, problem, fix}) }
	if !trainNameRe.MatchString(t.Name) {
		add("name", fmt.Sprintf("%q is not a train name", t.Name), `use YYYY.MM or YYYY.MM.N, e.g. "2026.11"`)
	}
	if !semverRe.MatchString(strings.SplitN(t.K3s.Version, "+", 2)[0]) {
		add("k3s.version", fmt.Sprintf("%q is not a k3s version", t.K3s.Version), `use the release tag, e.g. "v1.34.2+k3s1"`)
	}
	if len(t.K3s.Artifacts) == 0 {
		add("k3s.artifacts", "no architecture listed", "add at least amd64 with binaryURL and airgapImagesURL")
	}
	for arch, a := range t.K3s.Artifacts {
		p := "k3s.artifacts." + arch
		if arch != "amd64" && arch != "arm64" {
			add(p, "unsupported architecture", "use amd64 or arm64")
		}
		if !strings.HasPrefix(a.BinaryURL, "https://") {
			add(p+".binaryURL", "must be an https URL", "give the k3s release download URL")
		}
		if !strings.HasPrefix(a.AirgapImagesURL, "https://") {
			add(p+".airgapImagesURL", "must be an https URL", "give the k3s airgap images URL")
		}
		if a.BinarySHA256 != "" && !sha256Re.MatchString(a.BinarySHA256) {
			add(p+".binarySHA256", "not a lowercase hex sha256", "run make lock on a connected machine")
		}
		if a.AirgapImagesSHA256 != "" && !sha256Re.MatchString(a.AirgapImagesSHA256) {
			add(p+".airgapImagesSHA256", "not a lowercase hex sha256", "run make lock on a connected machine")
		}
	}
	if !k8sMinorRe.MatchString(t.Kubernetes.MinVersion) {
		add("kubernetes.minVersion", fmt.Sprintf("%q is not a Kubernetes minor", t.Kubernetes.MinVersion), `use "1.<minor>", e.g. "1.32"`)
	}
	if !k8sMinorRe.MatchString(t.Kubernetes.MaxVersion) {
		add("kubernetes.maxVersion", fmt.Sprintf("%q is not a Kubernetes minor", t.Kubernetes.MaxVersion), `use "1.<minor>", e.g. "1.35"`)
	}
	if k8sMinorRe.MatchString(t.Kubernetes.MinVersion) && k8sMinorRe.MatchString(t.Kubernetes.MaxVersion) {
		if MinorOf(t.Kubernetes.MinVersion) > MinorOf(t.Kubernetes.MaxVersion) {
			add("kubernetes", "minVersion is above maxVersion", "swap them")
		}
		if m, ok := k3sMinor(t.K3s.Version); ok && (m < MinorOf(t.Kubernetes.MinVersion) || m > MinorOf(t.Kubernetes.MaxVersion)) {
			add("k3s.version", fmt.Sprintf("Kubernetes 1.%d is outside the train's range %s..%s", m, t.Kubernetes.MinVersion, t.Kubernetes.MaxVersion), "pin a k3s release inside the supported range")
		}
	}
	if !semverRe.MatchString(t.Flux.Version) {
		add("flux.version", fmt.Sprintf("%q is not a version", t.Flux.Version), `e.g. "v2.9.5"`)
	}
	for _, c := range []string{"source-controller", "kustomize-controller", "notification-controller"} {
		if v, ok := t.Flux.Controllers[c]; !ok || !semverRe.MatchString(v) {
			add("flux.controllers."+c, "missing or not a version", "pin the controller version the Flux release ships")
		}
	}
	if !semverRe.MatchString(t.Docs.Version) {
		add("docs.version", fmt.Sprintf("%q is not a version", t.Docs.Version), `e.g. "v5.4.1"`)
	}
	seenChart := map[string]bool{}
	for i, c := range t.Charts {
		p := fmt.Sprintf("charts[%d]", i)
		if c.Name == "" {
			add(p+".name", "empty", "give the chart's name from its Chart.yaml")
		} else if seenChart[c.Name] {
			add(p+".name", fmt.Sprintf("chart %q listed twice", c.Name), "keep one entry per chart")
		}
		seenChart[c.Name] = true
		if c.Layer != "" && !contains(Layers, c.Layer) {
			add(p+".layer", fmt.Sprintf("%q is not a layer", c.Layer), "use one of: "+strings.Join(Layers, ", "))
		}
		if c.Namespace != "" && !dns1123Re.MatchString(c.Namespace) {
			add(p+".namespace", fmt.Sprintf("%q is not a namespace name", c.Namespace), "use lower-case letters, digits and hyphens")
		}
		if c.Component != "" && !dns1123Re.MatchString(c.Component) {
			add(p+".component", fmt.Sprintf("%q is not a component name", c.Component), "use lower-case letters, digits and hyphens")
		}
		if !strings.HasPrefix(c.Repository, "https://") && !strings.HasPrefix(c.Repository, "oci://") {
			add(p+".repository", fmt.Sprintf("%q is neither https:// nor oci://", c.Repository), "give the Helm repository URL or the oci:// chart reference")
		}
		for j, m := range c.Manifests {
			if !strings.HasPrefix(m, "https://") {
				add(fmt.Sprintf("%s.manifests[%d]", p, j), fmt.Sprintf("%q is not an https URL", m), "give the raw file URL at the pinned tag")
			}
		}
		if !semverRe.MatchString(c.Version) {
			add(p+".version", fmt.Sprintf("%q is not a chart version", c.Version), "pin an exact chart version")
		}
		if c.SHA256 != "" && !sha256Re.MatchString(c.SHA256) {
			add(p+".sha256", "not a lowercase hex sha256", "run make lock on a connected machine")
		}
	}
	seenImage := map[string]bool{}
	for i, im := range t.Images {
		p := fmt.Sprintf("images[%d]", i)
		if !imageRefRe.MatchString(im.Reference) {
			add(p+".reference", fmt.Sprintf("%q is not registry/repository:tag", im.Reference), "write the full reference with registry host and an explicit tag")
		} else if im.Tag() == "latest" {
			add(p+".reference", "tag latest is not a pin", "pin a release tag")
		}
		if seenImage[im.Reference] {
			add(p+".reference", "listed twice", "keep one entry per image")
		}
		seenImage[im.Reference] = true
		if im.Size < 0 {
			add(p+".size", "negative", "give the compressed size in bytes, or leave it out")
		}
		if im.Digest != "" && !digestRe.MatchString(im.Digest) {
			add(p+".digest", fmt.Sprintf("%q is not sha256:<64 hex>", im.Digest), "run make lock on a connected machine")
		}
	}
	t.validateChartLinks(add)
	t.validateIrreversible(add)
	for i, f := range t.UpgradesFrom {
		if !trainNameRe.MatchString(f) {
			add(fmt.Sprintf("upgradesFrom[%d]", i), fmt.Sprintf("%q is not a train name", f), "use YYYY.MM")
		} else if f == t.Name {
			add(fmt.Sprintf("upgradesFrom[%d]", i), "a train cannot upgrade from itself", "remove it")
		}
	}
	for i, s := range t.RequiredStops {
		if !trainNameRe.MatchString(s) {
			add(fmt.Sprintf("requiredStops[%d]", i), fmt.Sprintf("%q is not a train name", s), "use YYYY.MM")
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Subject: "train " + t.Name, Fields: errs}
	}
	return nil
}

// MinorOf returns the minor of "1.<minor>" or "v1.<minor>.<patch>..."; -1 when malformed.
func MinorOf(v string) int {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return -1
	}
	n := 0
	for _, r := range parts[1] {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func k3sMinor(v string) (int, bool) {
	m := MinorOf(strings.SplitN(v, "+", 2)[0])
	return m, m >= 0
}

// ParseTrain decodes and validates a train from YAML. Unknown fields are
// errors: a typo in a train must not silently drop a pin.
func ParseTrain(data []byte) (*Train, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parsing train YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var t Train
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decoding train: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Catalog is the set of trains a binary knows.
type Catalog struct {
	trains map[string]*Train
}

// LoadEmbedded loads and validates every train embedded in the binary.
func LoadEmbedded() (*Catalog, error) { return LoadCatalog(embeddedTrains, "trains") }

// LoadCatalog loads every *.yaml train in dir of fsys; the file name must
// match the train's name.
func LoadCatalog(fsys fs.FS, dir string) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("listing trains: %w", err)
	}
	c := &Catalog{trains: map[string]*Train{}}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading train %s: %w", e.Name(), err)
		}
		t, err := ParseTrain(data)
		if err != nil {
			return nil, fmt.Errorf("loading train file %s: %w", e.Name(), err)
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); t.Name != want {
			return nil, fmt.Errorf("loading train file %s: name %q does not match the file name", e.Name(), t.Name)
		}
		c.trains[t.Name] = t
	}
	if err := c.checkGraph(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catalog) checkGraph() error {
	for _, name := range c.Names() {
		t := c.trains[name]
		for _, s := range t.RequiredStops {
			if _, ok := c.trains[s]; !ok {
				return fmt.Errorf("train %s: requiredStops names unknown train %s", t.Name, s)
			}
		}
		if err := c.checkHops(t); err != nil {
			return err
		}
	}
	return nil
}

// Add puts a train given as a file beside the catalog's (install --train-file).
// It must validate, and may not reuse the name of a train the catalog holds.
func (c *Catalog) Add(t *Train) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if _, ok := c.trains[t.Name]; ok {
		return fmt.Errorf("train %s is already known to this binary: a train file may not replace it", t.Name)
	}
	c.trains[t.Name] = t
	if err := c.checkGraph(); err != nil {
		delete(c.trains, t.Name)
		return err
	}
	return nil
}

// Names returns the trains in release order (names sort chronologically).
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.trains))
	for n := range c.trains {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the named train.
func (c *Catalog) Get(name string) (*Train, error) {
	t, ok := c.trains[name]
	if !ok {
		return nil, fmt.Errorf("train %q is not known to this binary (known: %s)", name, strings.Join(c.Names(), ", "))
	}
	return t, nil
}

// Latest returns the newest train.
func (c *Catalog) Latest() *Train {
	names := c.Names()
	if len(names) == 0 {
		return nil
	}
	return c.trains[names[len(names)-1]]
}
