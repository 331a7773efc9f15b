//go:build e2e

package appliance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

// GitServerImage is the git server image the test trains pin.
const GitServerImage = "ghcr.io/suitenumerique/docs-appliance-git-server:e2e"

// Pin is an image of a test train: its reference (repo:tag) and the digest containerd recorded.
type Pin struct{ Reference, Digest string }

// Pinned is the reference with its digest (repo:tag@sha256:...), as render writes it.
func (p Pin) Pinned() string { return p.Reference + "@" + p.Digest }

// Env is what the installs of a test share.
type Env struct {
	Node *node.Node
	// Mod is the module's root; Bin the docs-appliance binary under test.
	Mod, Bin string
	// Client reaches the node's API server from the host as a cluster admin.
	Client *cluster.Client
	// Pins are the images Setup imported: the git server, the stand-in and the Flux controllers.
	Pins []Pin
	// Standin is the stand-in application's image, pinned by digest.
	Standin string

	dirs kit.Dirs
}

// Setup builds the binary and the images every install needs, imports them into n with their
// digests (as k3s preloads images pinned by digest), waits until the kubelet lists them (the
// cluster preflight of install looks there), and makes the git server's volume.
func Setup(ctx context.Context, t *testing.T, n *node.Node) *Env {
	t.Helper()
	mod, err := images.ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &Env{Node: n, Mod: mod}
	if e.Client, err = cluster.NewFromKubeconfig(n.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	v, err := kit.Load()
	if err != nil {
		t.Fatal(err)
	}
	if e.dirs, err = v.Dirs(); err != nil {
		t.Fatal(err)
	}

	// The binary under test, as `make build` makes it (with the embedded Flux manifests).
	e.Bin = filepath.Join(dir, "docs-appliance")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", e.Bin, "./cmd/docs-appliance")
	build.Dir, build.Env = mod, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building docs-appliance: %v\n%s", err, out)
	}
	if _, err := gitops.FluxManifests("v2.9.5"); gitops.IsFluxManifestsMissing(err) {
		kit.Unavailable(t, "the Flux install manifests the binary embeds ("+filepath.Join(mod, "installer/gitops/manifests/v2.9.5")+")", "run `make flux-manifests`")
	} else if err != nil {
		t.Fatal(err)
	}

	// Images: the git server assembled from this machine's Debian git, the stand-in, and the
	// Flux controllers the harness built.
	server := filepath.Join(dir, "git-server")
	if err := images.BuildGo(ctx, mod, "./cmd/git-server", server); err != nil {
		t.Fatal(err)
	}
	gitTar := filepath.Join(dir, "git-server.tar")
	if _, err := gitserver.WriteImage(gitserver.ImageOptions{Tag: GitServerImage, ServerBinary: server, GitRoot: "/", Out: gitTar}); err != nil {
		t.Fatal(err)
	}
	standinTar, err := images.GoProgram{Package: "./e2e/images/standin", Tag: images.Standin, User: "65532:65532"}.Build(ctx, mod, dir)
	if err != nil {
		t.Fatal(err)
	}
	tars := []string{gitTar, standinTar}
	refs := []string{GitServerImage, images.Standin}
	for _, f := range v.Flux {
		tars = append(tars, filepath.Join(e.dirs.FluxImages, f.Name+".tar"))
		refs = append(refs, f.Image())
	}
	e.Pins = e.Import(ctx, t, tars, refs)
	e.Standin = e.Pins[1].Pinned()
	e.gitVolume(ctx, t)
	return e
}

// Import loads image tarballs into the node and returns the pins of refs (images now in the
// node, from these tarballs or earlier ones), once the kubelet lists each by digest.
func (e *Env) Import(ctx context.Context, t *testing.T, tars, refs []string) []Pin {
	t.Helper()
	if err := e.Node.ImportImages(ctx, tars...); err != nil {
		t.Fatal(err)
	}
	pins := e.PinsOf(ctx, t, refs...)
	e.WaitNodeImages(ctx, t, pins)
	return pins
}

// PinsOf are the pins of images already in the node.
func (e *Env) PinsOf(ctx context.Context, t *testing.T, refs ...string) []Pin {
	t.Helper()
	ctr := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+e.Node.Name, filepath.Join(e.dirs.Containerd, "ctr"),
		"-a", filepath.Join(e.Node.RunDir, "containerd", "containerd.sock"), "-n", "k8s.io", "images", "ls")
	out, err := ctr.CombinedOutput()
	if err != nil {
		t.Fatalf("listing the node's images: %v\n%s", err, out)
	}
	digests := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[2], "sha256:") {
			digests[f[0]] = f[2]
		}
	}
	var pins []Pin
	for _, r := range refs {
		if digests[r] == "" {
			t.Fatalf("containerd lists no digest for %s", r)
		}
		pins = append(pins, Pin{r, digests[r]})
	}
	return pins
}

// WaitNodeImages waits until the kubelet lists every pinned image by digest in the node's status
// (it refreshes that list every few seconds).
func (e *Env) WaitNodeImages(ctx context.Context, t *testing.T, pins []Pin) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		nodes, err := e.Client.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, n := range nodes.Items {
			for _, im := range n.Status.Images {
				for _, name := range im.Names {
					have[name] = true
				}
			}
		}
		var missing []string
		for _, p := range pins {
			repo := p.Reference[:strings.LastIndex(p.Reference, ":")]
			if !have[repo+"@"+p.Digest] {
				missing = append(missing, repo+"@"+p.Digest)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not list %v", missing)
		}
		time.Sleep(2 * time.Second)
	}
}

// gitVolume: k3s's local-path provisioner gives the git server its volume; the e2e node has no
// provisioner, so a host folder stands in, as a PersistentVolume the claim binds to.
func (e *Env) gitVolume(ctx context.Context, t *testing.T) {
	t.Helper()
	pvDir := filepath.Join(e.Node.RunDir, "pv", "git-server")
	if err := os.MkdirAll(pvDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pvDir, 0o777); err != nil { // the server runs as 65532
		t.Fatal(err)
	}
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "e2e-git-server-data"},
		"spec": map[string]any{
			"capacity":                      map[string]any{"storage": "5Gi"},
			"accessModes":                   []any{"ReadWriteOnce"},
			"persistentVolumeReclaimPolicy": "Retain",
			"storageClassName":              "",
			"hostPath":                      map[string]any{"path": pvDir, "type": "Directory"},
		},
	}}
	if _, err := e.Client.Apply(ctx, []*unstructured.Unstructured{pv}, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// NewGitVolume replaces the git server's volume with an empty one, as a new server's disk is:
// the old PersistentVolume (released by its deleted claim) and its folder go first.
func (e *Env) NewGitVolume(ctx context.Context, t *testing.T) {
	t.Helper()
	pvs := e.Client.Kube.CoreV1().PersistentVolumes()
	if err := pvs.Delete(ctx, "e2e-git-server-data", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := pvs.Get(ctx, "e2e-git-server-data", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Fatalf("waiting for the git server's old volume to go: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(e.Node.RunDir, "pv", "git-server")); err != nil {
		t.Fatal(err)
	}
	e.gitVolume(ctx, t)
}

// Command runs the binary on the host (it reaches the API server through the node's loopback
// forwarder: give it the host kubeconfig, Node.Kubeconfig).
func (e *Env) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, e.Bin, args...)
}

// NodeCommand runs the binary inside the node's network namespace, as it runs on an appliance's
// server: it reaches what the pods reach at the node's IP (an S3 store there, say), and the API
// server with NodeKubeconfig.
func (e *Env) NodeCommand(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + e.Node.Name, e.Bin}, args...)...)
}

// NodeKubeconfig reaches the API server from inside the node's namespace as a cluster admin (the
// node's own admin kubeconfig, 0600).
func (e *Env) NodeKubeconfig() string { return filepath.Join(e.Node.RunDir, "pki", "admin.kubeconfig") }
