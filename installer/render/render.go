package render

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// SecretSource gives secret values by name (the secrets.Store).
type SecretSource interface {
	Get(name string) (string, bool)
}

// Options are the inputs of a render.
type Options struct {
	Config  *config.Config
	Train   *bundles.Train
	Profile *profiles.Profile
	Charts  bundles.ChartStore
	Secrets SecretSource
	// Recipients are the age public keys the repository's secrets are
	// encrypted for: the appliance's key, then any operator's own.
	Recipients []string
	// AllowMissingCharts renders everything else and lists missing charts
	// in the result instead of failing (install --dry-run).
	AllowMissingCharts bool
	// CollectUnpinned lists the uses of images the train does not pin in
	// Result.UnpinnedImages instead of failing (install --dry-run shows
	// them as a blocker). Without it such a use is an
	// *UnpinnedImagesError.
	CollectUnpinned bool
	// Branding is the config's branding as config.CheckBranding read and
	// checked it (nil without branding): render reads no file itself.
	Branding *config.BrandAssets
}

// File is one file of the desired-state repository.
type File struct {
	Path    string
	Content []byte
	// Secret marks a plain Kubernetes Secret that Write encrypts with SOPS
	// (or keeps encrypted as it is when its values did not change).
	Secret bool
	// MergeRules marks .sops.yaml: the file holds this environment's creation rules,
	// which Write merges with the other environments' rules already there.
	MergeRules bool
}

// Component summarises one rendered component for the plan.
type Component struct {
	Name      string   `json:"name"`
	Chart     string   `json:"chart,omitempty"`
	Version   string   `json:"version,omitempty"`
	Layer     string   `json:"layer"`
	Namespace string   `json:"namespace"`
	Objects   int      `json:"objects"`
	CRDs      int      `json:"crds"`
	Missing   string   `json:"missing,omitempty"`
	Images    []string `json:"images,omitempty"`
}

// Result is the rendered repository and what the plan shows of it.
type Result struct {
	// Environment is the config's environment: the render writes base/ and only this
	// environment's environments/<env>/ and clusters/<env>/.
	Environment string
	Files       []File
	Components  []Component
	// Layers are the Flux Kustomizations, in dependency order.
	Layers []Layer
	// Missing lists charts this build does not carry (AllowMissingCharts).
	Missing []*bundles.ChartMissingError
	// Images are every image the rendered objects use.
	Images []string
	// Unpinned are used images that the train does not pin (only with
	// CollectUnpinned: otherwise Render fails).
	Unpinned []string
	// UnpinnedImages are each use of those, with its object and the fix.
	UnpinnedImages []UnpinnedImage
	// units are the environment's objects by layer folder, as it applies them: its
	// overlays' builds must give exactly these.
	units []unit
}

// Layer is one Flux Kustomization of the desired state.
type Layer struct {
	Name      string   `json:"name"`
	Path      string   `json:"path"`
	DependsOn []string `json:"dependsOn,omitempty"`
	Decrypt   bool     `json:"decrypt,omitempty"`
	// HealthChecks, when set, are what the layer waits for instead of
	// every object it applies (see flux.go).
	HealthChecks []ObjectRef `json:"healthChecks,omitempty"`
}

// ObjectRef names one object of the cluster.
type ObjectRef = ref

// component is a unit of rendered objects in its own folder.
type component struct {
	Component
	dir     string
	crds    []Object
	objects []Object
	// health lists what the layer must wait for when waiting on every
	// object would be wrong: objects an operator makes (a StatefulSet of
	// a Redis), or an object whose slowness must not hold the layer back.
	health []ref
}

// Render produces the desired-state repository. It is pure: it reads the
// charts and the secret values and returns files; nothing is written.
func Render(ctx context.Context, o Options) (*Result, error) {
	if o.Config == nil || o.Train == nil || o.Profile == nil || o.Charts == nil || o.Secrets == nil {
		return nil, errors.New("rendering: config, train, profile, chart store and secrets are all required")
	}
	if len(o.Recipients) == 0 {
		return nil, errors.New("rendering: no age recipient to encrypt secrets for")
	}
	if o.Config.Branding.Enabled() && o.Branding == nil {
		return nil, errors.New("rendering: the config has branding but its files were not read (config.CheckBranding)")
	}
	env := o.Config.Environment
	if env == "" {
		env = config.DefaultEnvironment
	}
	if err := config.ValidEnvironment(env); err != nil {
		return nil, fmt.Errorf("rendering: environment: %w", err)
	}
	base, err := referenceUnits(ctx, o)
	if err != nil {
		return nil, err
	}
	r := newRenderer(o)
	r.res.Environment = env
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	if err := r.assemble(base); err != nil {
		return nil, err
	}
	if len(r.res.UnpinnedImages) > 0 && !o.CollectUnpinned {
		return nil, &UnpinnedImagesError{Train: o.Train.Name, Images: r.res.UnpinnedImages}
	}
	return r.res, nil
}

func newRenderer(o Options) *renderer {
	return &renderer{opts: o, scopes: newScopes(), res: &Result{}, objectFiles: map[string]string{}}
}

type renderer struct {
	opts       Options
	scopes     scopes
	res        *Result
	components []*component
	secrets    []secretDef
	namespaces map[string]map[string]string // name → labels
	// imageUses are the images each kept object names; objectFiles the
	// file of each object (by component folder and ID), for the report
	// of unpinned images.
	imageUses   []objectImages
	objectFiles map[string]string
}

func (r *renderer) run(ctx context.Context) error {
	train := r.opts.Train
	r.namespaces = map[string]map[string]string{}

	// Load every carried chart first: their CRDs tell Helm which APIs exist
	// and tell us which kinds are cluster-scoped.
	type loaded struct {
		chart bundles.Chart
		data  []byte
	}
	var charts []loaded
	for _, c := range train.Charts {
		if !r.enabled(c) {
			continue
		}
		data, err := r.opts.Charts.Open(c)
		var missing *bundles.ChartMissingError
		if errors.As(err, &missing) && r.opts.AllowMissingCharts {
			r.res.Missing = append(r.res.Missing, missing)
			r.res.Components = append(r.res.Components, Component{
				Name: c.ComponentName(), Chart: c.Name, Version: c.Version, Layer: c.LayerName(),
				Namespace: c.NamespaceName(), Missing: missing.Error(),
			})
			continue
		}
		if err != nil {
			return fmt.Errorf("rendering %s: %w", c.ComponentName(), err)
		}
		charts = append(charts, loaded{c, data})
	}
	apiVersions := []string{}
	for _, l := range charts {
		ch, err := loadChart(l.data)
		if err != nil {
			return fmt.Errorf("rendering %s: %w", l.chart.ComponentName(), err)
		}
		crds, err := chartCRDs(ch)
		if err != nil {
			return fmt.Errorf("rendering %s: %w", l.chart.ComponentName(), err)
		}
		for _, crd := range crds {
			apiVersions = append(apiVersions, crdAPIVersions(crd)...)
		}
	}
	apiVersions = append(apiVersions, knownAPIVersions(r.opts)...)

	vctx := r.valuesContext()
	for _, l := range charts {
		c := l.chart
		ch, err := loadChart(l.data)
		if err != nil {
			return fmt.Errorf("rendering %s: %w", c.ComponentName(), err)
		}
		values, err := chartValues(vctx, c)
		if err != nil {
			return fmt.Errorf("computing values of %s: %w", c.ComponentName(), err)
		}
		out, err := helmTemplate(ctx, ch, c.ComponentName(), c.NamespaceName(), values, train.K3s.Version, apiVersions)
		if err != nil {
			return fmt.Errorf("rendering chart %s %s: %w", c.Name, c.Version, err)
		}
		if post, ok := postRenderers[c.Name]; ok {
			if err := post(vctx, out.objects); err != nil {
				return fmt.Errorf("rendering chart %s %s: %w", c.Name, c.Version, err)
			}
		}
		comp := &component{
			Component: Component{Name: c.ComponentName(), Chart: c.Name, Version: c.Version, Layer: c.LayerName(), Namespace: c.NamespaceName()},
			dir:       componentDir(c.LayerName(), c.ComponentName()),
			crds:      out.crds,
			objects:   out.objects,
		}
		r.components = append(r.components, comp)
		r.namespaces[c.NamespaceName()] = namespaceLabels(c.NamespaceName())
	}

	owned, err := r.applianceComponents(vctx)
	if err != nil {
		return err
	}
	for _, o := range owned {
		if err := r.addOwned(o); err != nil {
			return err
		}
	}
	for _, comp := range r.components {
		for _, crd := range comp.crds {
			r.scopes.learn(crd)
		}
	}
	for _, comp := range r.components {
		if err := r.finish(comp); err != nil {
			return err
		}
	}
	for _, s := range r.secrets {
		if _, ok := r.namespaces[s.Namespace]; !ok && s.Namespace != "flux-system" {
			r.namespaces[s.Namespace] = namespaceLabels(s.Namespace)
		}
	}
	return nil
}

// addOwned adds an appliance component, joining the chart component of
// the same name when there is one.
func (r *renderer) addOwned(o *component) error {
	for _, c := range r.components {
		if c.Name != o.Name {
			continue
		}
		if c.Layer != o.Layer {
			return fmt.Errorf("rendering %s: the appliance's objects belong to layer %s but the train puts the chart in %s", o.Name, o.Layer, c.Layer)
		}
		c.crds = append(c.crds, o.crds...)
		c.objects = append(c.objects, o.objects...)
		c.health = append(c.health, o.health...)
		return nil
	}
	r.components = append(r.components, o)
	return nil
}

// enabled reports whether the profile runs the chart's layer.
func (r *renderer) enabled(c bundles.Chart) bool {
	// Keycloak's CRDs serve the embedded identity provider only.
	if c.Name == "keycloak-operator-crds" && r.opts.Config.Identity.Mode != config.Embedded {
		return false
	}
	switch c.LayerName() {
	case "observability":
		return r.opts.Profile.Components.Observability
	case "policy":
		return r.opts.Profile.Components.Policy
	}
	return true
}

func componentDir(layer, name string) string {
	if layer == "apps" {
		return path.Join("apps", name)
	}
	return path.Join("infrastructure", name)
}

// finish namespaces a component's objects, moves Secrets to the encrypted
// tree, marks objects Flux must treat specially, and collects images.
func (r *renderer) finish(comp *component) error {
	var kept []Object
	seen := map[string]bool{}
	for _, o := range comp.objects {
		if !r.scopes.clusterScoped(o) && o.Namespace() == "" {
			o.SetNamespace(comp.Namespace)
		}
		if r.scopes.clusterScoped(o) {
			delete(o.metadata(), "namespace")
		}
		if seen[o.ID()] {
			return fmt.Errorf("rendering %s: %s %s/%s is rendered twice", comp.Name, o.Kind(), o.Namespace(), o.Name())
		}
		seen[o.ID()] = true
		if o.Group() == "" && o.Kind() == "Secret" {
			// A chart's Secret never goes to Git in the clear.
			s, err := secretFromObject(comp.Name, o)
			if err != nil {
				return fmt.Errorf("rendering %s: %w", comp.Name, err)
			}
			r.secrets = append(r.secrets, s)
			continue
		}
		if o.Group() == "" && o.Kind() == "Namespace" {
			r.namespaces[o.Name()] = labelsOf(o)
			continue
		}
		if ns := o.Namespace(); ns != "" && !r.scopes.clusterScoped(o) && !systemNamespaces[ns] {
			// A chart may place an object in another namespace than its own: that
			// namespace is the appliance's to make too, or the apply fails.
			if _, ok := r.namespaces[ns]; !ok {
				r.namespaces[ns] = namespaceLabels(ns)
			}
		}
		markForFlux(o)
		if uses := imageUses(o); len(uses) > 0 {
			for _, u := range uses {
				comp.Images = append(comp.Images, u.ref)
			}
			r.imageUses = append(r.imageUses, objectImages{comp: comp, obj: o, uses: uses})
		}
		kept = append(kept, o)
	}
	for _, crd := range comp.crds {
		// Pruning a CRD deletes every object of its kind: never let Flux do it.
		crd.Annotations()["kustomize.toolkit.fluxcd.io/prune"] = "disabled"
	}
	comp.objects = kept
	comp.Objects, comp.CRDs = len(kept), len(comp.crds)
	comp.Images = uniqueSorted(comp.Images)
	return nil
}

// markForFlux annotates objects Flux must replace rather than patch.
func markForFlux(o Object) {
	// A Job's template is immutable: a changed Job must be recreated, as
	// Helm hooks and upstream's plain migrate Jobs expect.
	if o.Group() == "batch" && o.Kind() == "Job" {
		o.Annotations()["kustomize.toolkit.fluxcd.io/force"] = "enabled"
		// A Job that deletes itself when done would be recreated, and run
		// again, at every Flux reconciliation (Docs' migrate Job, Envoy
		// Gateway's certgen): a finished Job stays until Git changes it.
		if spec, ok := o["spec"].(map[string]any); ok {
			delete(spec, "ttlSecondsAfterFinished")
		}
	}
}

func labelsOf(o Object) map[string]string {
	md := o.metadata()
	l, _ := md["labels"].(map[string]any)
	out := map[string]string{}
	for k, v := range l {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func uniqueSorted(in []string) []string {
	m := map[string]bool{}
	for _, s := range in {
		m[s] = true
	}
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// assemble lays the components out as the environment's overlays over the shared base,
// and adds the secrets, the Flux Kustomizations and the READMEs.
func (r *renderer) assemble(base []unit) error {
	res := r.res
	env := res.Environment
	add := func(p string, content []byte) { res.Files = append(res.Files, File{Path: p, Content: content}) }

	for _, comp := range r.components {
		res.Components = append(res.Components, comp.Component)
		res.Images = append(res.Images, comp.Images...)
	}
	res.Images = uniqueSorted(res.Images)
	sort.SliceStable(res.Components, func(i, j int) bool {
		return layerIndex(res.Components[i].Layer) < layerIndex(res.Components[j].Layer) ||
			(layerIndex(res.Components[i].Layer) == layerIndex(res.Components[j].Layer) && res.Components[i].Name < res.Components[j].Name)
	})

	if err := writeBase(base, add); err != nil {
		return err
	}
	mine, theirs := map[string][]unit{}, map[string][]unit{}
	res.units = r.units()
	for _, u := range res.units {
		mine[u.layer] = append(mine[u.layer], u)
	}
	for _, u := range base {
		theirs[u.layer] = append(theirs[u.layer], u)
	}
	var layers []Layer
	addLayer := func(name string, decrypt bool) {
		l := Layer{Name: name, Path: path.Join(EnvironmentDir(env), name), DependsOn: layerDependencies(name, layers), Decrypt: decrypt}
		if name == "secrets" {
			l.DependsOn = []string{"crds"}
		}
		layers = append(layers, l)
	}
	for _, name := range append([]string{"crds", "secrets"}, bundles.Layers...) {
		if name == "secrets" {
			if len(r.secrets) > 0 {
				if err := r.writeSecrets(path.Join(EnvironmentDir(env), "secrets"), add); err != nil {
					return err
				}
				addLayer(name, true)
			}
			continue
		}
		if len(mine[name]) == 0 {
			continue
		}
		if err := r.writeOverlay(env, name, mine[name], theirs[name], add); err != nil {
			return err
		}
		addLayer(name, false)
	}
	res.UnpinnedImages = r.checkImages()
	for _, u := range res.UnpinnedImages {
		res.Unpinned = append(res.Unpinned, u.Image)
	}
	res.Unpinned = uniqueSorted(res.Unpinned)
	for i := range layers {
		layers[i].HealthChecks = r.layerHealth(layers[i].Name)
	}
	res.Layers = layers
	for _, l := range layers {
		add(path.Join(ClusterDir(env), l.Name+".yaml"), fluxKustomization(l, r.layerKinds(l.Name)))
	}
	res.Files = append(res.Files, File{Path: ".sops.yaml", Content: sopsRules(env, r.opts.Recipients), MergeRules: true})
	// The root files are every environment's: the guardrails validate the whole repository.
	add("README.md", append(rootReadme(), guardrailsReadme(r.opts.Train.Name)...))
	add(preCommitFile, preCommitConfig(r.opts.Train.Name))
	add(ciValidateFile, ciValidateScript(r.opts.Train.Name))
	add(path.Join(EnvironmentDir(env), "README.md"), repoReadme(r.opts, env, layers))
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	return nil
}

// layerHealth is the explicit health checks of a layer: set only when a
// component of the layer asks for them (platform). Such a layer waits for
// exactly these; the others wait for every object they apply.
func (r *renderer) layerHealth(layer string) []ref {
	var out []ref
	for _, c := range r.components {
		if c.Layer == layer {
			out = append(out, c.health...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// layerKinds lists apiVersion/kind of every object a layer applies plus
// those it health-checks, so its Kustomization carries the readiness
// expressions of exactly those kinds.
func (r *renderer) layerKinds(layer string) map[string]bool {
	kinds := map[string]bool{}
	for _, c := range r.components {
		if c.Layer != layer {
			continue
		}
		for _, o := range c.objects {
			kinds[o.APIVersion()+"/"+o.Kind()] = true
		}
		for _, h := range c.health {
			kinds[h.APIVersion+"/"+h.Kind] = true
		}
	}
	return kinds
}
