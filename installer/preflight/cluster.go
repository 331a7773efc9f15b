package preflight

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// ClusterOptions say what to check an existing cluster for (install --kubeconfig).
type ClusterOptions struct {
	// Client talks to the cluster.
	Client kubernetes.Interface
	// Train gives the supported Kubernetes range and the images the appliance runs.
	Train *bundles.Train
	// Airgapped: images missing from the nodes cannot be pulled, so they fail at once.
	Airgapped bool
	// Pullable reports whether an image can be pulled, nil when it can. It runs from this
	// machine, not from the nodes: it proves the registry serves the pinned image to this
	// network, the closest a client can get without scheduling a pod. Nil uses RegistryPullable.
	Pullable func(ctx context.Context, ref string) error
	// Ignore names checks not to run.
	Ignore []string
}

// ClusterChecks returns the checks of an existing cluster in the order they run.
func ClusterChecks() []Check {
	return []Check{
		{ID: "cluster-version", Severity: Fail, What: "the Kubernetes version is in the release train's range",
			Fix: "upgrade (or choose) a cluster within the supported range, or use another release train"},
		{ID: "cluster-nodes", Severity: Fail, What: "at least one node is Ready",
			Fix: "repair the nodes (kubectl describe node shows why they are not Ready)"},
		{ID: "cluster-images", Severity: Fail, What: "every image of the release train is on every Ready node or pullable",
			Fix: "load the missing images on every node (ctr -n k8s.io images import, from the bundle's images/), or make them pullable from a registry the nodes reach"},
	}
}

// CheckCluster runs the checks of an existing cluster. A failed check is not an error here:
// see Report.Err, whose message and the report's details list what is missing.
func CheckCluster(ctx context.Context, opts ClusterOptions) (*Report, error) {
	if opts.Client == nil || opts.Train == nil {
		return nil, errors.New("checking the cluster: a client and a release train are required")
	}
	if opts.Pullable == nil {
		opts.Pullable = RegistryPullable
	}
	checks := ClusterChecks()
	ignore, err := ignoreSet(opts.Ignore, checks)
	if err != nil {
		return nil, err
	}
	rep := &Report{Kind: "cluster", OK: true}
	var nodes []corev1.Node
	for _, c := range checks {
		if ignore[c.ID] {
			rep.add(Result{ID: c.ID, Severity: c.Severity, What: c.What, Outcome: Ignored})
			continue
		}
		var f finding
		switch c.ID {
		case "cluster-version":
			f = clusterVersion(opts)
		case "cluster-nodes":
			nodes, f = readyNodes(ctx, opts)
		case "cluster-images":
			if nodes == nil && ignore["cluster-nodes"] {
				nodes, _ = readyNodes(ctx, opts)
			}
			f = clusterImages(ctx, opts, nodes)
		}
		rep.add(c.evaluate(f))
	}
	return rep, nil
}

func clusterVersion(o ClusterOptions) finding {
	v, err := o.Client.Discovery().ServerVersion()
	if err != nil {
		return fail("asking the API server for its version: %v", err).withFix("check the kubeconfig and that the API server is reachable")
	}
	minor := bundles.MinorOf(v.GitVersion)
	lo, hi := bundles.MinorOf(o.Train.Kubernetes.MinVersion), bundles.MinorOf(o.Train.Kubernetes.MaxVersion)
	if minor < 0 {
		return fail("the API server reports version %q, which is not a Kubernetes 1.x version", v.GitVersion)
	}
	if minor < lo || minor > hi {
		return fail("Kubernetes %s is outside the range of train %s (%s to %s)", v.GitVersion, o.Train.Name, o.Train.Kubernetes.MinVersion, o.Train.Kubernetes.MaxVersion)
	}
	return pass("Kubernetes %s (train %s supports %s to %s)", v.GitVersion, o.Train.Name, o.Train.Kubernetes.MinVersion, o.Train.Kubernetes.MaxVersion)
}

func readyNodes(ctx context.Context, o ClusterOptions) ([]corev1.Node, finding) {
	list, err := o.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fail("listing nodes: %v", err).withFix("give the kubeconfig's user the right to list nodes")
	}
	var ready []corev1.Node
	var notReady []string
	for _, n := range list.Items {
		if nodeReady(&n) {
			ready = append(ready, n)
		} else {
			notReady = append(notReady, n.Name)
		}
	}
	if len(ready) == 0 {
		if len(list.Items) == 0 {
			return nil, fail("the cluster has no nodes")
		}
		return nil, fail("no node is Ready (%s)", strings.Join(notReady, ", "))
	}
	names := make([]string, len(ready))
	for i, n := range ready {
		names[i] = n.Name
	}
	detail := fmt.Sprintf("%d Ready: %s", len(ready), strings.Join(names, ", "))
	if len(notReady) > 0 {
		detail += fmt.Sprintf("; not Ready: %s", strings.Join(notReady, ", "))
	}
	return ready, pass("%s", detail)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// imageNames are the names under which a node may list an image: pinned ones by digest (a tag
// on the node may point at other content), unpinned ones by reference.
func imageNames(im bundles.Image) []string {
	if im.Digest != "" {
		return []string{im.Repository() + "@" + im.Digest}
	}
	return []string{im.Reference}
}

// normalizeImageName folds the spellings of Docker Hub the runtimes report into one.
func normalizeImageName(s string) string {
	for _, p := range []string{"index.docker.io/", "registry-1.docker.io/"} {
		if strings.HasPrefix(s, p) {
			return "docker.io/" + strings.TrimPrefix(s, p)
		}
	}
	return s
}

func clusterImages(ctx context.Context, o ClusterOptions, nodes []corev1.Node) finding {
	if len(nodes) == 0 {
		return fail("no Ready node to look for images on")
	}
	onNode := make([]map[string]bool, len(nodes))
	for i, n := range nodes {
		onNode[i] = map[string]bool{}
		for _, ci := range n.Status.Images {
			for _, nm := range ci.Names {
				onNode[i][normalizeImageName(nm)] = true
			}
		}
	}
	var missing []string
	present := 0
	for _, im := range o.Train.Images {
		var lacking []string
		for i, n := range nodes {
			found := false
			for _, nm := range imageNames(im) {
				if onNode[i][normalizeImageName(nm)] {
					found = true
				}
			}
			if !found {
				lacking = append(lacking, n.Name)
			}
		}
		if len(lacking) == 0 {
			present++
			continue
		}
		where := "on no node"
		if len(lacking) < len(nodes) {
			where = "not on " + strings.Join(lacking, ", ")
		}
		if o.Airgapped {
			missing = append(missing, fmt.Sprintf("%s (%s; air-gapped, so it cannot be pulled)", im.Pinned(), where))
			continue
		}
		if err := o.Pullable(ctx, im.Pinned()); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s, and not pullable: %v)", im.Pinned(), where, err))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fail("%d of %d images missing:\n%s", len(missing), len(o.Train.Images), "- "+strings.Join(missing, "\n- "))
	}
	pulled := len(o.Train.Images) - present
	if pulled > 0 {
		return pass("%d images on every Ready node, %d more pullable", present, pulled)
	}
	return pass("all %d images on every Ready node", present)
}

// RegistryPullable asks the image's registry for its manifest (a HEAD request, with the
// credentials of the local Docker config when there are any): nil when the registry serves it.
func RegistryPullable(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("parsing image reference %s: %w", ref, err)
	}
	if _, err := remote.Head(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("asking the registry for %s: %w", ref, err)
	}
	return nil
}
