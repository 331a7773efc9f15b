package gitops

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kustomizebuild "github.com/fluxcd/flux2/v2/pkg/manifestgen/kustomization"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops/fluxbuild"
)

// fluxVersion is the release every embedded train pins today.
const fluxVersion = "v2.9.5"

func embeddedOrSkip(t *testing.T) {
	t.Helper()
	if _, err := FluxManifests(fluxVersion); err != nil {
		if IsFluxManifestsMissing(err) {
			kit.Unavailable(t, "the embedded Flux install manifests (installer/gitops/manifests/"+fluxVersion+")", "run `make flux-manifests`")
		}
		t.Fatal(err)
	}
}

func flux2Dir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/fluxcd/flux2/v2").Output()
	if err != nil {
		t.Fatalf("finding the flux2 module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestEmbeddedManifestsGenerateTheComponentsOffline checks what the binary carries: the shape
// flux2 expects, and what bootstrap will install from it, generated with every proxy pointing
// nowhere (a download attempt would fail the test).
func TestEmbeddedManifestsGenerateTheComponentsOffline(t *testing.T) {
	embeddedOrSkip(t)
	fsys, _ := FluxManifests(fluxVersion)
	if err := fluxbuild.CheckShape(fsys, flux2Dir(t)); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
		t.Setenv(v, "http://127.0.0.1:9")
	}
	t.Setenv("NO_PROXY", "")
	m, err := GenerateComponents(fluxVersion)
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "clusters/production/flux-system/gotk-components.yaml" {
		t.Errorf("path %s", m.Path)
	}
	if !strings.Contains(m.Content, "# Components: source-controller,kustomize-controller,notification-controller") {
		t.Error("generation header does not list exactly the three components")
	}
	objs, err := cluster.DecodeObjects([]byte(m.Content))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	train := cat.Latest()
	kinds := map[string]int{}
	deployments := map[string]*unstructured.Unstructured{}
	crds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		switch o.GetKind() {
		case "Deployment":
			deployments[o.GetName()] = o
		case "CustomResourceDefinition":
			crds[o.GetName()] = true
		case "Namespace", "ClusterRole", "ClusterRoleBinding":
		default:
			if o.GetNamespace() != FluxNamespace {
				t.Errorf("%s %s is in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
		if o.GetLabels()["app.kubernetes.io/version"] != fluxVersion || o.GetLabels()["app.kubernetes.io/instance"] != FluxNamespace {
			t.Errorf("%s %s lacks the install labels: %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
	if len(deployments) != 3 {
		t.Errorf("deployments %v, want the three components", deployments)
	}
	for _, c := range FluxComponents {
		d := deployments[c]
		if d == nil {
			t.Errorf("no Deployment %s", c)
			continue
		}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		image := containers[0].(map[string]any)["image"]
		if want := "ghcr.io/fluxcd/" + c + ":" + train.Flux.Controllers[c]; image != want {
			t.Errorf("%s runs %v, the train pins %s", c, image, want)
		}
	}
	for _, crd := range []string{"gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io", "alerts.notification.toolkit.fluxcd.io"} {
		if !crds[crd] {
			t.Errorf("no CRD %s", crd)
		}
	}
	if crds["helmreleases.helm.toolkit.fluxcd.io"] {
		t.Error("helm-controller's CRDs are installed: the appliance renders charts itself")
	}
	if kinds["NetworkPolicy"] != 3 || kinds["Namespace"] != 1 || kinds["ResourceQuota"] != 1 {
		t.Errorf("kinds %v", kinds)
	}
}

func TestMissingManifestsSayHowToGetThem(t *testing.T) {
	_, err := FluxManifests("v9.9.9")
	if !IsFluxManifestsMissing(err) || !strings.Contains(err.Error(), "make flux-manifests") {
		t.Fatalf("got %v", err)
	}
	if _, err := GenerateComponents("v9.9.9"); !IsFluxManifestsMissing(err) {
		t.Fatalf("GenerateComponents: %v", err)
	}
}

func TestInstallOptionsLeaveOutExtraComponents(t *testing.T) {
	o := InstallOptions(fluxVersion, "staging")
	if o.ComponentsExtra != nil || strings.Join(o.Components, ",") != "source-controller,kustomize-controller,notification-controller" {
		t.Fatalf("components %v extra %v", o.Components, o.ComponentsExtra)
	}
	if o.TargetPath != "clusters/staging" || o.Namespace != FluxNamespace || !o.NetworkPolicy {
		t.Fatalf("%+v", o)
	}
}

// TestFluxSettingsPatchKustomizeController builds clusters/<env>/flux-system as bootstrap and
// the flux-system Kustomization do, and checks the appliance's patch lands.
func TestFluxSettingsPatchKustomizeController(t *testing.T) {
	embeddedOrSkip(t)
	m, err := GenerateComponents(fluxVersion)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "flux-system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"kustomization.yaml": fluxKustomization, "gotk-components.yaml": m.Content, "gotk-sync.yaml": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := kustomizebuild.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cluster.DecodeObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		has := strings.Contains(strings.Join(args, " "), "--feature-gates=CancelHealthCheckOnNewRevision=true")
		if has != (o.GetName() == "kustomize-controller") {
			t.Errorf("%s args %v", o.GetName(), args)
		}
	}
}
