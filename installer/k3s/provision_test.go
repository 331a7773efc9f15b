package k3s

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

const (
	bundleDir = "/var/lib/docs-appliance/bundles/2026.11-amd64"
	stateDir  = "/var/lib/docs-appliance"
)

var (
	binaryContent = []byte("#!k3s binary v1.35.2+k3s1 for amd64\n")
	imagesContent = bytes.Repeat([]byte("k3s airgap images "), 1000)
	docsImageTar  = []byte("a docker-archive of the train's images")
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func testTrain(binaryURL, imagesURL string) *bundles.Train {
	return &bundles.Train{
		Name: "2026.11",
		K3s: bundles.K3s{Version: "v1.35.2+k3s1", Artifacts: map[string]bundles.K3sArtifacts{
			"amd64": {BinaryURL: binaryURL, BinarySHA256: sum(binaryContent), AirgapImagesURL: imagesURL, AirgapImagesSHA256: sum(imagesContent)},
		}},
		Kubernetes: bundles.KubernetesRange{MinVersion: "1.33", MaxVersion: "1.36"},
		Images: []bundles.Image{
			{Reference: "docker.io/lasuite/impress-backend:v5.4.1"},
			{Reference: "ghcr.io/fluxcd/source-controller:v1.9.5"},
			{Reference: "quay.io/jetstack/cert-manager-controller:v1.21.1"},
		},
	}
}

// fakeK3s stands in for systemd and k3s, which cannot run here: systemctl is answered by a
// host.Recorder that keeps the unit's state, and starting the unit writes the kubeconfig k3s
// would write. The cluster is client-go's fake clientset holding what k3s would have created.
type fakeK3s struct {
	tr     *hosttest.Tree
	rec    *host.Recorder
	active bool
	kube   *fake.Clientset
}

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
users:
- name: default
  user: {token: not-a-real-token}
`

func newFakeK3s(t *testing.T) *fakeK3s {
	tr := hosttest.New(t).Write("/proc/sys/kernel/hostname", "docs-1\n").Mkdir("/etc/systemd/system")
	f := &fakeK3s{tr: tr, rec: &host.Recorder{}, kube: readyCluster("docs-1")}
	f.rec.On([]string{"systemctl", "is-active", Unit}, func(c host.Cmd) ([]byte, error) {
		if f.active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), &host.CommandError{Argv: c.Argv, Stdout: []byte("inactive\n"), ExitCode: 3, Err: errors.New("exit status 3")}
	})
	f.rec.On([]string{"systemctl", "enable", "--now", Unit}, f.start)
	f.rec.On([]string{"systemctl", "restart", Unit}, f.start)
	return f
}

// start is what systemd and k3s do on `systemctl enable --now` or `restart`.
func (f *fakeK3s) start(host.Cmd) ([]byte, error) {
	f.active = true
	if _, err := f.tr.Root.Symlink(UnitPath, host.EnabledLink(Unit)); err != nil {
		return nil, err
	}
	_, err := f.tr.Root.WriteFile(KubeconfigPath, []byte(testKubeconfig), 0o600)
	return nil, err
}

func readyCluster(node string) *fake.Clientset {
	objs := []runtime.Object{&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}},
	}}
	for _, d := range CoreDeployments {
		objs = append(objs, deployment(d, 1))
	}
	return fake.NewClientset(objs...)
}

func (f *fakeK3s) options() Options {
	return Options{
		Root:         f.tr.Root,
		Runner:       f.rec,
		Train:        testTrain("https://unused.invalid/k3s", "https://unused.invalid/images"),
		Arch:         "amd64",
		ArtifactsDir: bundleDir,
		Domains:      []string{"docs.example.org"},
		StateDir:     stateDir,
		NewClient:    func(*rest.Config) (kubernetes.Interface, error) { return f.kube, nil },
		Timeout:      5 * time.Second,
		PollInterval: 10 * time.Millisecond,
	}
}

func (f *fakeK3s) bundle() *fakeK3s {
	f.tr.Write(bundleDir+"/k3s/k3s", string(binaryContent)).
		Write(bundleDir+"/k3s/k3s-airgap-images-amd64.tar.zst", string(imagesContent)).
		Write(bundleDir+"/images/docs.tar", string(docsImageTar))
	return f
}

func provision(t *testing.T, o Options) string {
	t.Helper()
	var out bytes.Buffer
	if err := Provision(context.Background(), o, status.New(&out, status.Plain)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return out.String()
}

func mode(t *testing.T, r host.Root, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(r.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestProvisionFirstRunRerunAndConfigChange(t *testing.T) {
	f := newFakeK3s(t).bundle()
	o := f.options()
	r := f.tr.Root

	// First run: everything is written, then systemd reloads and starts k3s.
	out := provision(t, o)
	if got, want := f.rec.Lines(), []string{"systemctl is-active k3s.service", "systemctl daemon-reload", "systemctl enable --now k3s.service"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("first run ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range []string{"✔ Installing k3s v1.35.2+k3s1", "✔ Placing images for k3s to import", "✔ Writing the k3s configuration", "✔ Writing the k3s service", "✔ Starting k3s", "✔ Waiting for the node and core pods to be ready", "✔ Keeping the kubeconfig for the CLI",
		"• k3s v1.35.2+k3s1 is ready on node docs-1 (7 step(s) done, 0 already in place); the CLI finds its kubeconfig at /var/lib/docs-appliance/kubeconfig"} {
		if !strings.Contains(out, line) {
			t.Errorf("status lacks %q:\n%s", line, out)
		}
	}
	if got := f.tr.Read(BinaryPath); got != string(binaryContent) || mode(t, r, BinaryPath) != 0o755 {
		t.Errorf("binary %q mode %v", got, mode(t, r, BinaryPath))
	}
	for _, tool := range Tools {
		if target, err := r.Readlink(tool); err != nil || target != BinaryPath {
			t.Errorf("%s -> %q %v", tool, target, err)
		}
	}
	if f.tr.Read(ImagesDir+"/k3s-airgap-images-amd64.tar.zst") != string(imagesContent) || f.tr.Read(ImagesDir+"/docs.tar") != string(docsImageTar) {
		t.Error("image archives not placed")
	}
	a, _ := os.Stat(r.Path(ImagesDir + "/docs.tar"))
	b, _ := os.Stat(r.Path(bundleDir + "/images/docs.tar"))
	if !os.SameFile(a, b) {
		t.Error("the bundle's image tar was copied instead of hard-linked")
	}
	for p, m := range map[string]os.FileMode{ConfigPath: 0o600, RegistriesPath: 0o600, UnitPath: 0o644, EnvPath: 0o600, AppliedPath: 0o600, StateKubeconfig(stateDir): 0o600,
		VolumesDir(stateDir): 0o700} {
		if got := mode(t, r, p); got != m {
			t.Errorf("%s mode %v, want %v", p, got, m)
		}
	}
	env := f.tr.Read(EnvPath)
	if !regexp.MustCompile(`(?m)^K3S_TOKEN=[0-9a-f]{64}$`).MatchString(env) {
		t.Errorf("env file %q", env)
	}
	if strings.Contains(out, tokenFrom([]byte(env))) {
		t.Error("the cluster token was printed")
	}
	if f.tr.Read(StateKubeconfig(stateDir)) != testKubeconfig {
		t.Error("the kubeconfig was not kept in the state folder")
	}

	// Rerun with nothing changed: only the question whether k3s runs; every step says why it skips.
	f.rec.Reset()
	before, _ := os.Stat(r.Path(ConfigPath))
	out = provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service" {
		t.Errorf("rerun ran %q", got)
	}
	for _, line := range []string{
		"◎ Installing k3s v1.35.2+k3s1: k3s v1.35.2+k3s1 is in place (sha256 verified)",
		"◎ Placing images for k3s to import: 2 image archive(s) in place",
		"◎ Writing the k3s configuration: config.yaml and registries.yaml are up to date",
		"◎ Writing the k3s service: the unit and its environment are up to date",
		"◎ Starting k3s: k3s runs with this configuration",
		"◎ Keeping the kubeconfig for the CLI: the kubeconfig in /var/lib/docs-appliance is current",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("rerun status lacks %q:\n%s", line, out)
		}
	}
	after, _ := os.Stat(r.Path(ConfigPath))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("config.yaml was rewritten")
	}
	if f.tr.Read(EnvPath) != env {
		t.Error("the cluster token changed on a rerun")
	}

	// A new domain changes config.yaml: k3s restarts, and says why.
	f.rec.Reset()
	o.Domains = append(o.Domains, "collab.example.org")
	out = provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service\nsystemctl restart k3s.service" {
		t.Errorf("config change ran %q", got)
	}
	if !strings.Contains(out, "✔ Restarting k3s (config.yaml changed)") {
		t.Errorf("status:\n%s", out)
	}
	if !strings.Contains(f.tr.Read(ConfigPath), "- collab.example.org") {
		t.Error("config.yaml lacks the new domain")
	}
}

// A run killed after writing the configuration but before restarting k3s leaves k3s running the
// old one; the rerun must still restart it, which the applied record tells.
func TestKilledRunStillRestartsOnRerun(t *testing.T) {
	f := newFakeK3s(t).bundle()
	o := f.options()
	provision(t, o)

	// The killed run: files written by hand, as its steps would have, but no restart.
	o.Domains = []string{"new.example.org"}
	p, err := newProvisioner(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := runConfig(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f.rec.Reset()
	out := provision(t, o)
	if !strings.Contains(out, "◎ Writing the k3s configuration: config.yaml and registries.yaml are up to date") ||
		!strings.Contains(out, "✔ Restarting k3s (config.yaml changed)") {
		t.Errorf("status:\n%s", out)
	}
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service\nsystemctl restart k3s.service" {
		t.Errorf("ran %q", got)
	}
}

func TestFailedStartShowsTheCommandsOutput(t *testing.T) {
	f := newFakeK3s(t).bundle()
	f.rec.On([]string{"systemctl", "enable", "--now", Unit}, func(c host.Cmd) ([]byte, error) {
		return nil, &host.CommandError{Argv: c.Argv, Stderr: []byte("Job for k3s.service failed because the control process exited with error code."), ExitCode: 1, Err: errors.New("exit status 1")}
	})
	var out bytes.Buffer
	err := Provision(context.Background(), f.options(), status.New(&out, status.Plain))
	if err == nil || !strings.Contains(err.Error(), "enabling and starting k3s.service: running systemctl enable --now k3s.service: exit status 1") ||
		!strings.Contains(err.Error(), "Job for k3s.service failed") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(out.String(), "✗ Starting k3s") {
		t.Errorf("status:\n%s", out.String())
	}
	if f.tr.Root.Exists(AppliedPath) {
		t.Error("a failed start was recorded as applied")
	}
	// Once systemd starts it, a rerun finishes the job.
	f.rec.On([]string{"systemctl", "enable", "--now", Unit}, f.start)
	f.rec.Reset()
	provision(t, f.options())
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service\nsystemctl daemon-reload\nsystemctl enable --now k3s.service" {
		t.Errorf("rerun ran %q", got)
	}
}

// Online, k3s comes from the train's URLs: a TLS server on 127.0.0.1 stands in for the release
// downloads, and what it serves must match the train's sha256.
func TestOnlineDownloadIsVerified(t *testing.T) {
	served := map[string][]byte{"/k3s": binaryContent, "/k3s-airgap-images-amd64.tar.zst": imagesContent}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()

	f := newFakeK3s(t)
	o := f.options()
	o.ArtifactsDir = ""
	o.HTTPClient = srv.Client()
	o.Train = testTrain(srv.URL+"/k3s", srv.URL+"/k3s-airgap-images-amd64.tar.zst")
	provision(t, o)
	if f.tr.Read(BinaryPath) != string(binaryContent) || f.tr.Read(ImagesDir+"/k3s-airgap-images-amd64.tar.zst") != string(imagesContent) {
		t.Error("downloads not placed")
	}

	// Tampered content is refused and leaves nothing in place.
	g := newFakeK3s(t)
	served["/k3s"] = []byte("tampered")
	o2 := g.options()
	o2.ArtifactsDir, o2.HTTPClient = "", srv.Client()
	o2.Train = testTrain(srv.URL+"/k3s", srv.URL+"/k3s-airgap-images-amd64.tar.zst")
	err := Provision(context.Background(), o2, status.Discard())
	var ce *host.ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "verifying /usr/local/bin/k3s (from "+srv.URL+"/k3s)") {
		t.Fatalf("got %v", err)
	}
	if g.tr.Root.Exists(BinaryPath) {
		t.Error("a binary failing verification was put in place")
	}

	// A missing file says what the server answered.
	o2.Train = testTrain(srv.URL+"/nope", srv.URL+"/k3s-airgap-images-amd64.tar.zst")
	if err := Provision(context.Background(), o2, status.Discard()); err == nil || !strings.Contains(err.Error(), "the server answered 404 Not Found") {
		t.Fatalf("got %v", err)
	}
	if len(g.rec.Commands()) != 0 {
		t.Errorf("systemd was touched after a failed download: %q", g.rec.Lines())
	}
}

func TestUnlockedTrainIsRefusedBeforeAnythingChanges(t *testing.T) {
	f := newFakeK3s(t).bundle()
	o := f.options()
	o.Train = testTrain("https://x.invalid/k3s", "https://x.invalid/images")
	art := o.Train.K3s.Artifacts["amd64"]
	art.BinarySHA256, art.AirgapImagesSHA256 = "", ""
	o.Train.K3s.Artifacts["amd64"] = art
	err := Provision(context.Background(), o, status.Discard())
	if err == nil || !strings.Contains(err.Error(), "train 2026.11 is unlocked: k3s.artifacts.amd64 has no sha256") {
		t.Fatalf("got %v", err)
	}
	if f.tr.Root.Exists(BinaryPath) || f.tr.Root.Exists(ConfigPath) || len(f.rec.Commands()) != 0 {
		t.Error("something changed before the refusal")
	}
	// Tests and development may take an unpinned train on purpose; reruns still converge.
	o.AllowUnpinned = true
	provision(t, o)
	f.rec.Reset()
	out := provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service" {
		t.Errorf("an unpinned rerun ran %q\n%s", got, out)
	}
}

func TestBadOptionsNameTheFix(t *testing.T) {
	f := newFakeK3s(t)
	o := f.options()
	o.Airgapped, o.ArtifactsDir = true, ""
	o.Arch = "riscv64"
	o.ClusterCIDR = "10.42.0.0"
	o.StateDir = "relative"
	err := Provision(context.Background(), o, status.Discard())
	for _, want := range []string{
		"train 2026.11 has no k3s for architecture riscv64 (it has amd64)",
		"an air-gapped install takes k3s from an imported bundle",
		`cluster CIDR "10.42.0.0" is not a CIDR`,
		`the state folder "relative" must be an absolute path (--state-dir)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestOperatorsKubectlIsLeftAlone(t *testing.T) {
	f := newFakeK3s(t).bundle()
	f.tr.Write("/usr/local/bin/kubectl", "#!/bin/sh\n# the operator's own kubectl\n")
	provision(t, f.options())
	if f.tr.Read("/usr/local/bin/kubectl") != "#!/bin/sh\n# the operator's own kubectl\n" {
		t.Error("the operator's kubectl was replaced")
	}
	if target, _ := f.tr.Root.Readlink("/usr/local/bin/crictl"); target != BinaryPath {
		t.Errorf("crictl -> %q", target)
	}
}

func TestPlanChangesNothing(t *testing.T) {
	f := newFakeK3s(t).bundle()
	plan, err := Plan(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range plan {
		lines = append(lines, fmt.Sprintf("%s|%s", p.Step, p.Skip))
	}
	want := []string{
		"Installing k3s v1.35.2+k3s1|", "Placing images for k3s to import|", "Writing the k3s configuration|",
		"Writing the k3s service|", "Starting k3s|", "Waiting for the node and core pods to be ready|", "Keeping the kubeconfig for the CLI|",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{BinaryPath, ConfigPath, UnitPath, ImagesDir} {
		if f.tr.Root.Exists(p) {
			t.Errorf("the plan wrote %s", p)
		}
	}
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service" {
		t.Errorf("the plan ran %q", got)
	}
}

func deployment(name string, available int32) *appsv1.Deployment {
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	d.Status = appsv1.DeploymentStatus{UpdatedReplicas: available, AvailableReplicas: available}
	st := corev1.ConditionFalse
	if available >= 1 {
		st = corev1.ConditionTrue
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: st}}
	return d
}
