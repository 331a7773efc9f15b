package nodes

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/kubernetes"
)

// SwapImageRepository names the image that takes a rollout's k3s to the other nodes.
const SwapImageRepository = "docs-appliance.local/k3s-swap"

// swapK3sPath is where the swap image holds the new k3s.
const swapK3sPath = "/k3s"

// SwapImage is the swap image as built: its reference by digest, and the sum of the k3s it carries.
type SwapImage struct {
	// Ref is name:tag@digest, what the swap pods run.
	Ref string
	// Archive is the OCI archive written, to import with k3s ctr images import.
	Archive string
	// K3sSHA256 is the sum of the k3s binary inside.
	K3sSHA256 string
}

// BuildSwapImage writes the swap image to archive: the new k3s and this program, whose
// `node swap-k3s` does the swap on the node (k3s.Swap). Both must be static binaries, since the
// image holds nothing else.
func BuildSwapImage(k3sBinary, appliance, version, archive string) (*SwapImage, error) {
	// Tagged by version and the pair's sum: an image imported later under the same tag (another
	// build of this program) would leave this one's content to containerd's garbage collector.
	var sums []string
	for _, p := range []string{k3sBinary, appliance} {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("building the k3s swap image: %w", err)
		}
		sums = append(sums, sha256Hex(data))
	}
	tag := version + "-" + sha256Hex([]byte(strings.Join(sums, "\n")))[:12]
	ref, contents, err := buildHostImage("k3s swap", SwapImageRepository, tag,
		[]imageFile{{k3sBinary, swapK3sPath}, {appliance, appliancePath}}, archive)
	if err != nil {
		return nil, err
	}
	return &SwapImage{Ref: ref, Archive: archive, K3sSHA256: sha256Hex(contents[0])}, nil
}

// SwapJobName is the swap Job of a node for an image.
func SwapJobName(node string, img *SwapImage) string { return hostJobName("k3s-swap", node, img.Ref) }

// SwapJob runs the swap on one node (a host Job).
func SwapJob(node string, img *SwapImage) *batchv1.Job {
	return hostJob("k3s-swap", node, img.Ref,
		[]string{"node", "swap-k3s", "--host-root", hostRootMount, "--binary", swapK3sPath, "--sha256", img.K3sSHA256})
}

// RunSwap runs the node's swap Job to its end. A Job of an earlier run that succeeded counts; one
// that failed is replaced.
func RunSwap(ctx context.Context, kube kubernetes.Interface, node string, img *SwapImage, poll, timeout time.Duration) error {
	return runHostJob(ctx, kube, node, "swap", SwapJob(node, img), img.Archive, poll, timeout)
}
