package render

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/suitenumerique/docs-appliance/bundles"
)

func TestImagePinning(t *testing.T) {
	const digest = "sha256:53f301ed0a0be7a5e9ce4e887a276e81e144082ca6ea38388bcf72e6de6b0284"
	const other = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tr := &bundles.Train{Name: "2030.01", Images: []bundles.Image{
		{Reference: "quay.io/prometheus/node-exporter:v1.10.2", Digest: digest},
		{Reference: "docker.io/library/nginx:1.29"},
		{Reference: "docker.io/lasuite/impress-backend:v5.4.1", Digest: other},
	}}
	p := trainPins(tr)
	for _, c := range []struct {
		ref    string
		pinned bool
		why    string
	}{
		{"quay.io/prometheus/node-exporter:v1.10.2", true, ""},
		{"quay.io/prometheus/node-exporter:v1.10.2@" + digest, true, ""},
		{"quay.io/prometheus/node-exporter@" + digest, true, ""},
		{"quay.io/prometheus/node-exporter:v1.10.2-distroless", false, "only as :v1.10.2"},
		{"quay.io/prometheus/node-exporter:v1.10.2@" + other, false, "digest is not the one"},
		{"quay.io/prometheus/node-exporter@" + other, false, "no quay.io/prometheus/node-exporter image of that digest"},
		{"quay.io/prometheus/node-exporter", false, "neither tag nor digest"},
		{"quay.io/prometheus/blackbox-exporter:v0.27.0", false, "pins no quay.io/prometheus/blackbox-exporter"},
		// Docker Hub names as the runtime normalises them.
		{"nginx:1.29", true, ""},
		{"docker.io/nginx:1.29", true, ""},
		{"index.docker.io/library/nginx:1.29", true, ""},
		{"lasuite/impress-backend:v5.4.1", true, ""},
		// An unlocked pin has no digest to compare with.
		{"nginx:1.29@" + digest, false, "unlocked"},
		{"Not A Reference", false, "not a valid image name"},
	} {
		ok, why := p.check(c.ref)
		if ok != c.pinned || !strings.Contains(why, c.why) {
			t.Errorf("%s: pinned=%v (%q), want %v (%q)", c.ref, ok, why, c.pinned, c.why)
		}
	}
}

func TestLooksLikeImage(t *testing.T) {
	for s, want := range map[string]bool{
		"quay.io/jetstack/cert-manager-acmesolver:v1.21.1":                                    true,
		"ghcr.io/x/y@sha256:53f301ed0a0be7a5e9ce4e887a276e81e144082ca6ea38388bcf72e6de6b0284": true,
		"localhost:5000/x:1":                     true,
		"redis.cache.svc.cluster.local:6379/1":   false, // an address
		"docs-proxy.docs.svc.cluster.local:8081": false,
		"https://registry.example.org/x:1":       false, // a URL
		"quay.io/prometheus/node-exporter":       false, // no tag: not said to be an image
		"kube-public monitoring":                 false,
		"v1.2.3":                                 false,
	} {
		if got := looksLikeImage(s); got != want {
			t.Errorf("looksLikeImage(%q) = %v, want %v", s, got, want)
		}
	}
}

// unpinnedFixture renders a combination with the fixture Kyverno chart of
// testdata/unpinned in place of the stand-in.
func unpinnedFixture(t *testing.T, cb combo) *fixture {
	t.Helper()
	f := comboFixture(t, cb)
	ch, err := loader.LoadDir(filepath.Join("testdata", "unpinned", "kyverno"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chartutil.Save(ch, f.chartDir); err != nil {
		t.Fatal(err)
	}
	return f
}

// wantUnpinned are the uses the fixture chart hides, as kind/name, field
// and image; every other image it names is pinned.
var wantUnpinned = []struct{ kind, name, field, image string }{
	{"Job", "kyverno-migrate-resources", "spec.template.spec.containers[kubectl].image", "reg.kyverno.io/kyverno/kyverno-cli:v1.19.0"},
	{"CronJob", "kyverno-cleanup", "spec.jobTemplate.spec.template.spec.initContainers[wait].image", "docker.io/busybox:1.37"},
	{"Pod", "kyverno-debug", "spec.ephemeralContainers[debugger].image", "docker.io/library/alpine:3.22"},
	{"DaemonSet", "node-exporter", "spec.template.spec.containers[node-exporter].image", "quay.io/prometheus/node-exporter:v1.10.2-distroless"},
	{"Deployment", "kyverno-admission-controller", "spec.template.spec.containers[kyverno].args[0]", "quay.io/example/helper:v2.0.0"},
	{"Deployment", "kyverno-admission-controller", "spec.template.spec.containers[kyverno].env[RELATED_IMAGE_HELPER].value", "quay.io/example/helper:v2.0.0"},
	{"Widget", "kyverno-reporter", "spec.image", "ghcr.io/example/reporter:v0.1.0"},
	{"ConfigMap", "kyverno-templates", "data[job.yaml] Job spec.template.spec.containers[gen].image", "ghcr.io/example/generator:v3"},
	{"ConfigMap", "kyverno-templates", "data[controller.yaml] ControllerConfig provider.kubernetes.shutdownManager.image", "ghcr.io/example/shutdown:v1"},
}

// TestUnpinnedImagesFailRender: in every combination, a chart using
// images the train does not pin makes render fail, naming each use's
// object, file, field and image and the fix; nothing else is named.
func TestUnpinnedImagesFailRender(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := unpinnedFixture(t, cb)
			_, err := Render(context.Background(), f.opts)
			var unp *UnpinnedImagesError
			if !errors.As(err, &unp) {
				t.Fatalf("want an *UnpinnedImagesError, got %v", err)
			}
			if len(unp.Images) != len(wantUnpinned) {
				var got []string
				for _, u := range unp.Images {
					got = append(got, u.String())
				}
				t.Errorf("%d unpinned uses, want %d:\n%s", len(unp.Images), len(wantUnpinned), strings.Join(got, "\n"))
			}
			msg := err.Error()
			for _, w := range wantUnpinned {
				var found *UnpinnedImage
				for i, u := range unp.Images {
					if u.Kind == w.kind && u.Name == w.name && u.Field == w.field {
						found = &unp.Images[i]
					}
				}
				if found == nil {
					t.Errorf("%s %s: %s is not reported", w.kind, w.name, w.field)
					continue
				}
				if found.Image != w.image || found.Namespace != "kyverno" || found.File == "" || !strings.Contains(found.Fix, "chart kyverno 3.9.0") {
					t.Errorf("%s %s: reported as %+v", w.kind, w.name, *found)
				}
				if !strings.HasPrefix(found.File, "base/policy/kyverno/") && !strings.HasPrefix(found.File, "environments/production/policy/") {
					t.Errorf("%s %s: file %q is not the object's", w.kind, w.name, found.File)
				}
				for _, part := range []string{w.kind + " kyverno/" + w.name, found.File, w.image, "pin " + w.image + " in train 2030.01"} {
					if !strings.Contains(msg, part) {
						t.Errorf("the error does not say %q", part)
					}
				}
			}
		})
	}
}

// TestCollectUnpinnedImages: install --dry-run's option lists the
// unpinned images instead of failing, so the plan can show them.
func TestCollectUnpinnedImages(t *testing.T) {
	f := unpinnedFixture(t, combos[0])
	f.opts.CollectUnpinned = true
	res, err := Render(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, w := range wantUnpinned {
		want[w.image] = true
	}
	var images []string
	for im := range want {
		images = append(images, im)
	}
	sort.Strings(images)
	if strings.Join(res.Unpinned, ",") != strings.Join(images, ",") || len(res.UnpinnedImages) != len(wantUnpinned) {
		t.Fatalf("Unpinned = %v (%d uses), want %v", res.Unpinned, len(res.UnpinnedImages), images)
	}
	// What is pinned is not in the list: the fixture's pinned references,
	// by tag and by digest, are among the images used.
	used := strings.Join(res.Images, "\n")
	for _, pinned := range []string{"quay.io/prometheus/node-exporter:v1.10.2\n", "quay.io/prometheus/node-exporter@sha256:53f3", "reg.kyverno.io/kyverno/kyvernopre:v1.19.0@sha256:"} {
		if !strings.Contains(used, pinned) {
			t.Errorf("%s is not among the used images", pinned)
		}
	}
}

// TestDormantImageFlags: an operator's default image for a feature is
// not a use until an object of the desired state asks for the feature.
func TestDormantImageFlags(t *testing.T) {
	u := imageUse{ref: "quay.io/thanos/thanos:v0.39.2", field: "args[3]", flag: "--thanos-default-base-image"}
	prom := newObject("monitoring.coreos.com/v1", "Prometheus", "monitoring", "k8s", "monitoring").with("spec", m{"replicas": 1})
	r := &renderer{components: []*component{{objects: []Object{prom}}}}
	if !r.dormant(u) {
		t.Error("Thanos' default image counts as used with no Thanos anywhere")
	}
	prom["spec"].(m)["thanos"] = m{"objectStorageConfig": m{"name": "thanos"}}
	if r.dormant(u) {
		t.Error("a Prometheus with a Thanos sidecar does not make Thanos' image a use")
	}
	other := u
	other.flag = "--prometheus-config-reloader"
	if r.dormant(other) {
		t.Error("an image flag outside the dormant list was skipped")
	}
}

// TestKyvernoMigrationUsesThePinnedCLI: once the train pins kyverno-cli,
// the migration Job runs it and is no longer reported.
func TestKyvernoMigrationUsesThePinnedCLI(t *testing.T) {
	f := unpinnedFixture(t, combos[0])
	tr := *f.opts.Train
	tr.Images = append(append([]bundles.Image{}, tr.Images...), bundles.Image{
		Reference: "reg.kyverno.io/kyverno/kyverno-cli:v1.19.0",
		Digest:    "sha256:" + strings.Repeat("c", 64),
	})
	f.opts.Train, f.opts.CollectUnpinned = &tr, true
	res, err := Render(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.UnpinnedImages {
		if u.Name == "kyverno-migrate-resources" {
			t.Errorf("the migration Job still uses an unpinned image: %s", u)
		}
	}
	if !strings.Contains(strings.Join(res.Images, " "), "reg.kyverno.io/kyverno/kyverno-cli:v1.19.0@sha256:cccc") {
		t.Errorf("the pinned kyverno-cli is not used: %v", res.Images)
	}
}
