package realcharts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// Options say what the gate checks.
type Options struct {
	// ChartsDir holds the train's charts as <name>-<version>.tgz.
	ChartsDir string
	// Train is the train to check; the newest embedded one (or TrainFile's)
	// when empty.
	Train string
	// TrainFile is a train given as a file beside the embedded ones.
	TrainFile string
	// Sops is the real sops CLI.
	Sops string
	// Only restricts the variants to those whose name matches one of these
	// path.Match patterns ("single/*/embedded/online"); all when empty.
	Only []string
	// Log receives progress; nil discards it.
	Log io.Writer
}

// MissingChartsError says the gate has no real charts to check, and how
// to get them.
type MissingChartsError struct {
	Train   string
	Dir     string
	Missing []string
}

func (e *MissingChartsError) Error() string {
	where := "CHARTS is not set"
	if e.Dir != "" {
		where = e.Dir + " lacks " + strings.Join(e.Missing, ", ")
	}
	return fmt.Sprintf("checking the real charts of train %s: %s. Get them on a connected machine with `make lock TRAIN=%s` and "+
		"`make charts` (they land in bundles/charts), then run `make check-real-charts CHARTS=bundles/charts`; "+
		"or give CHARTS=DIR, any folder of <name>-<version>.tgz (an air-gap bundle's charts/)", e.Train, where, e.Train)
}

// Run checks every variant of the train against the real charts. An
// error means the gate could not run (no charts, no kit, no sops CLI);
// what it found is in the report, and any rejection fails the release.
func Run(ctx context.Context, o Options) (*Report, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	train, err := loadTrain(o)
	if err != nil {
		return nil, err
	}
	if err := findCharts(train, o.ChartsDir); err != nil {
		return nil, err
	}
	if st, err := os.Stat(o.Sops); o.Sops == "" || err != nil || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("the sops CLI is not at %q: run `make sops-cli` (builds getsops/sops into the cache) or give its path", o.Sops)
	}
	if _, err := envtest.KitDir(); err != nil {
		return nil, err
	}
	fluxCRDs, err := fluxCRDs(train.Flux.Version)
	if err != nil {
		return nil, err
	}
	rep := &Report{Train: train.Name, NCharts: len(train.Charts), Charts: checkCharts(train, o.ChartsDir)}

	work, err := os.MkdirTemp("", "check-real-charts-")
	if err != nil {
		return nil, fmt.Errorf("making the gate's work folder: %w", err)
	}
	defer os.RemoveAll(work)
	var secretFlags []string
	var tlsFiles [2]string
	for _, d := range []string{"given", "tls", "state"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o700); err != nil {
			return nil, err
		}
	}
	if secretFlags, err = givenSecrets(filepath.Join(work, "given")); err != nil {
		return nil, err
	}
	if tlsFiles, err = testCertificate(filepath.Join(work, "tls"), time.Now()); err != nil {
		return nil, fmt.Errorf("making the test certificate for tls.mode provided: %w", err)
	}
	configPath := filepath.Join(work, "appliance.yaml")
	if err := os.WriteFile(configPath, []byte(bareConfig), 0o600); err != nil {
		return nil, err
	}

	seen := map[string]string{} // render fingerprint → variant
	for i, v := range AllVariants() {
		if !selected(v, o.Only) {
			continue
		}
		vr := &VariantResult{Variant: v}
		rep.Variants = append(rep.Variants, vr)
		logf("%s: rendering", v.Name())
		in, err := installer.LoadInputs(installer.InputOptions{
			ConfigPath: configPath, TrainFile: o.TrainFile, Sets: v.sets(train.Name, tlsFiles),
			SecretFiles: secretFlags, StateDir: filepath.Join(work, "state"), ChartsDir: o.ChartsDir,
		})
		if !v.Valid() {
			vr.Refused = refusal(err)
			if vr.Refused == "" {
				vr.reject("config", v.Name(), fmt.Sprintf("the config accepts tls.mode acme on an air-gapped site (got %v): it must refuse it", err))
			}
			continue
		}
		if err != nil {
			vr.reject("render", "inputs", err.Error())
			continue
		}
		res, err := render.Render(ctx, render.Options{
			Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store, Recipients: in.Recipients(),
			Branding: in.Branding,
			// Every unpinned image is a rejection of its own; the other checks still run.
			CollectUnpinned: true,
		})
		if err != nil {
			vr.reject("render", "render", err.Error())
			continue
		}
		fp := fingerprint(res)
		if prev, ok := seen[fp]; ok {
			vr.SameAs = prev
			continue
		}
		seen[fp] = v.Name()
		crds, objs, err := renderedObjects(res)
		if err != nil {
			vr.reject("render", "files", err.Error())
			continue
		}
		checkImages(objs, res, in.Train, vr)
		checkRefs(objs, certManagerNamespace(in.Train), vr)
		logf("%s: decrypting the encrypted files with %s", v.Name(), o.Sops)
		if err := checkSOPS(ctx, o.Sops, res, in, filepath.Join(work, fmt.Sprintf("repo-%d", i)), vr); err != nil {
			return nil, err
		}
		logf("%s: %d CRDs and %d objects to a fresh API server", v.Name(), len(crds)+len(fluxCRDs), len(objs))
		if err := dryRun(ctx, crds, objs, fluxCRDs, vr); err != nil {
			return nil, fmt.Errorf("dry-running %s: %w", v.Name(), err)
		}
		logf("%s: %d objects, %d rejections", v.Name(), vr.Objects, len(vr.Rejections))
	}
	return rep, nil
}

func loadTrain(o Options) (*bundles.Train, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, err
	}
	name := o.Train
	if o.TrainFile != "" {
		data, err := os.ReadFile(o.TrainFile)
		if err != nil {
			return nil, fmt.Errorf("reading the train file: %w", err)
		}
		t, err := bundles.ParseTrain(data)
		if err != nil {
			return nil, fmt.Errorf("loading train file %s: %w", o.TrainFile, err)
		}
		if err := cat.Add(t); err != nil {
			return nil, fmt.Errorf("loading train file %s: %w", o.TrainFile, err)
		}
		if name == "" {
			name = t.Name
		}
	}
	if name == "" {
		name = cat.Latest().Name
	}
	return cat.Get(name)
}

// findCharts refuses to start without every chart of the train.
func findCharts(t *bundles.Train, dir string) error {
	e := &MissingChartsError{Train: t.Name, Dir: dir}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			e.Missing = []string{"everything: it is not a folder"}
			return e
		}
	}
	store := bundles.DirStore(dir)
	for _, c := range t.Charts {
		if dir == "" || !store.Has(c) {
			e.Missing = append(e.Missing, c.FileName())
		}
	}
	if dir == "" || len(e.Missing) > 0 {
		return e
	}
	return nil
}

// checkCharts compares every archive with the train: the pinned sha256,
// name and version, the recorded appVersion and subcharts, and the images
// linked to it.
func checkCharts(t *bundles.Train, dir string) []Rejection {
	var out []Rejection
	store := bundles.DirStore(dir)
	for i, c := range t.Charts {
		data, err := store.Open(c)
		if err == nil {
			var meta *bundles.ChartMeta
			if meta, err = bundles.ReadChartMeta(data); err == nil {
				err = t.CheckChartArchive(i, meta)
			}
		}
		var ve *bundles.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Fields {
				out = append(out, Rejection{Check: "chart", Object: c.FileName(), Message: f.Error()})
			}
		case err != nil:
			out = append(out, Rejection{Check: "chart", Object: c.FileName(), Message: err.Error()})
		}
	}
	return out
}

// refusal is the tls.mode field error of a config refused as it must be.
func refusal(err error) string {
	var ve *bundles.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Path == "tls.mode" {
				return f.Error()
			}
		}
	}
	return ""
}

func selected(v Variant, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, p := range only {
		if ok, _ := path.Match(p, v.Name()); ok {
			return true
		}
	}
	return false
}

// fingerprint identifies a render by every file it makes, Secrets in
// their plain form (the variants share one secret store, so equal
// configs give equal values).
func fingerprint(res *render.Result) string {
	h := sha256.New()
	for _, f := range res.Files {
		fmt.Fprintf(h, "%s\x00%t\x00%d\x00", f.Path, f.Secret, len(f.Content))
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func certManagerNamespace(t *bundles.Train) string {
	if c, ok := t.Chart("cert-manager"); ok {
		return c.NamespaceName()
	}
	return "cert-manager"
}

// fluxCRDs are the CRDs of the Flux release the train pins, from the
// install manifests this binary embeds (bootstrap applies them before
// anything of the render).
func fluxCRDs(version string) ([]*unstructured.Unstructured, error) {
	m, err := gitops.GenerateComponents(version)
	if err != nil {
		return nil, err
	}
	objs, err := cluster.DecodeObjects([]byte(m.Content))
	if err != nil {
		return nil, fmt.Errorf("reading the Flux %s install manifests: %w", version, err)
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			out = append(out, o)
		}
	}
	return out, nil
}
