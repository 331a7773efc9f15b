package preflight

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/suitenumerique/docs-appliance/bundles"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func node(name string, ready bool, images ...string) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	if len(images) > 0 {
		n.Status.Images = []corev1.ContainerImage{{Names: images, SizeBytes: 1000}}
	}
	return n
}

// fakeCluster is client-go's fake clientset: no kubelet runs here to fill node.status.images, so
// the nodes are written as a kubelet reports them.
func fakeCluster(gitVersion string, nodes ...*corev1.Node) *fake.Clientset {
	c := fake.NewClientset()
	for _, n := range nodes {
		_, _ = c.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
	}
	c.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: gitVersion, Major: "1"}
	return c
}

func trainWith(images ...bundles.Image) *bundles.Train {
	return &bundles.Train{Name: "2026.11", Kubernetes: bundles.KubernetesRange{MinVersion: "1.33", MaxVersion: "1.36"}, Images: images}
}

func TestClusterWithEveryImagePasses(t *testing.T) {
	train := trainWith(
		bundles.Image{Reference: "docker.io/lasuite/impress-backend:v5.4.1", Digest: digestA},
		bundles.Image{Reference: "ghcr.io/fluxcd/source-controller:v1.9.5", Digest: digestB},
	)
	c := fakeCluster("v1.35.2+k3s1",
		node("a", true, "docker.io/lasuite/impress-backend@"+digestA, "docker.io/lasuite/impress-backend:v5.4.1", "ghcr.io/fluxcd/source-controller@"+digestB),
		node("b", true, "index.docker.io/lasuite/impress-backend@"+digestA, "ghcr.io/fluxcd/source-controller@"+digestB),
	)
	rep, err := CheckCluster(context.Background(), ClusterOptions{Client: c, Train: train, Pullable: func(context.Context, string) error {
		t.Error("nothing should be pulled when every node has every image")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("not OK:\n%s", rep.Text())
	}
	if r, _ := rep.Get("cluster-images"); r.Detail != "all 2 images on every Ready node" {
		t.Errorf("images: %q", r.Detail)
	}
}

func TestClusterOutsideTheTrainsRange(t *testing.T) {
	rep, err := CheckCluster(context.Background(), ClusterOptions{Client: fakeCluster("v1.37.0", node("a", true)), Train: trainWith()})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rep.Get("cluster-version")
	if r.Outcome != Failed || r.Detail != "Kubernetes v1.37.0 is outside the range of train 2026.11 (1.33 to 1.36)" {
		t.Errorf("got %s %q", r.Outcome, r.Detail)
	}
}

func TestClusterWithoutReadyNodes(t *testing.T) {
	rep, _ := CheckCluster(context.Background(), ClusterOptions{Client: fakeCluster("v1.34.1", node("a", false)), Train: trainWith()})
	if r, _ := rep.Get("cluster-nodes"); r.Outcome != Failed || r.Detail != "no node is Ready (a)" {
		t.Errorf("got %s %q", r.Outcome, r.Detail)
	}
}

// A tag on the node is not enough for a pinned image: the tag may point at other content.
func TestAirgappedClusterListsMissingImagesWithoutPulling(t *testing.T) {
	train := trainWith(
		bundles.Image{Reference: "docker.io/lasuite/impress-backend:v5.4.1", Digest: digestA},
		bundles.Image{Reference: "ghcr.io/fluxcd/source-controller:v1.9.5", Digest: digestB},
	)
	c := fakeCluster("v1.35.0", node("a", true, "docker.io/lasuite/impress-backend:v5.4.1", "ghcr.io/fluxcd/source-controller@"+digestB), node("b", true))
	rep, _ := CheckCluster(context.Background(), ClusterOptions{Client: c, Train: train, Airgapped: true, Pullable: func(context.Context, string) error {
		t.Error("an air-gapped site pulls nothing")
		return nil
	}})
	r, _ := rep.Get("cluster-images")
	want := "2 of 2 images missing:\n" +
		"- docker.io/lasuite/impress-backend:v5.4.1@" + digestA + " (on no node; air-gapped, so it cannot be pulled)\n" +
		"- ghcr.io/fluxcd/source-controller:v1.9.5@" + digestB + " (not on b; air-gapped, so it cannot be pulled)"
	if r.Outcome != Failed || r.Detail != want {
		t.Errorf("got %s\n%s\nwant\n%s", r.Outcome, r.Detail, want)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "cluster-images") {
		t.Errorf("Err() = %v", err)
	}
}

// Online, missing images are asked of their registry: a real registry served on 127.0.0.1.
func TestOnlineClusterPullsFromARealRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	pushed, _ := name.ParseReference(reg + "/lasuite/impress-frontend:v5.4.1")
	if err := remote.Write(pushed, img); err != nil {
		t.Fatal(err)
	}
	dg, _ := img.Digest()
	train := trainWith(
		bundles.Image{Reference: reg + "/lasuite/impress-frontend:v5.4.1", Digest: dg.String()},
		bundles.Image{Reference: reg + "/lasuite/impress-backend:v5.4.1", Digest: digestA},
	)
	rep, err := CheckCluster(context.Background(), ClusterOptions{Client: fakeCluster("v1.36.0", node("a", true)), Train: train})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rep.Get("cluster-images")
	if r.Outcome != Failed || !strings.HasPrefix(r.Detail, "1 of 2 images missing:\n- "+reg+"/lasuite/impress-backend:v5.4.1@"+digestA+" (on no node, and not pullable: asking the registry") {
		t.Errorf("got %s %q", r.Outcome, r.Detail)
	}
	if strings.Contains(r.Detail, "impress-frontend") {
		t.Errorf("the pushed image is pullable, yet listed: %q", r.Detail)
	}
}

func TestClusterIgnoreAndUnknownIDs(t *testing.T) {
	c := fakeCluster("v1.37.0", node("a", true))
	rep, err := CheckCluster(context.Background(), ClusterOptions{Client: c, Train: trainWith(), Ignore: []string{"cluster-version"}})
	if err != nil || !rep.OK || rep.Summary.Ignored[0] != "cluster-version" {
		t.Errorf("got %+v %v", rep, err)
	}
	if _, err := CheckCluster(context.Background(), ClusterOptions{Client: c, Train: trainWith(), Ignore: []string{"ports"}}); err == nil || !strings.Contains(err.Error(), "known: cluster-version, cluster-nodes, cluster-images") {
		t.Errorf("got %v", err)
	}
}
