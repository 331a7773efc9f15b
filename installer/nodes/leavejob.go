package nodes

import (
	"context"
	"fmt"
	"os"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// LeaveImageRepository names the image that takes the reset of `node remove` to the node leaving.
const LeaveImageRepository = "docs-appliance.local/leave"

// LeaveImage is the leave image as built: this program alone.
type LeaveImage struct {
	// Ref is name:tag@digest, what the leave pod runs; Archive the OCI archive to import.
	Ref, Archive string
}

// BuildLeaveImage writes the leave image to archive: this program, whose `node leave` hands the
// host's reset to its systemd (k3s.Leave). It must be static: the image holds nothing else.
func BuildLeaveImage(appliance, archive string) (*LeaveImage, error) {
	// Tagged by the program's sum: an image imported later under the same tag would leave this
	// one's content to containerd's garbage collector.
	data, err := os.ReadFile(appliance)
	if err != nil {
		return nil, fmt.Errorf("building the leave image: %w", err)
	}
	ref, _, err := buildHostImage("leave", LeaveImageRepository, sha256Hex(data)[:16], []imageFile{{appliance, appliancePath}}, archive)
	if err != nil {
		return nil, err
	}
	return &LeaveImage{Ref: ref, Archive: archive}, nil
}

// LeaveJobName is the leave Job of a node for an image.
func LeaveJobName(node string, img *LeaveImage) string { return hostJobName("leave", node, img.Ref) }

// LeaveJob runs the hand-over on one node (a host Job).
func LeaveJob(node string, img *LeaveImage) *batchv1.Job {
	return hostJob("leave", node, img.Ref, []string{"node", "leave", "--host-root", hostRootMount})
}

// Leave runs the node's leave Job to its end, then waits until the node's kubelet is gone (the
// Node not Ready): deleting the Node before would let a kubelet still running register it again.
func Leave(ctx context.Context, kube kubernetes.Interface, node string, img *LeaveImage, poll, timeout time.Duration) error {
	if err := runHostJob(ctx, kube, node, "leave", LeaveJob(node, img), img.Archive, poll, timeout); err != nil {
		return err
	}
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return !Of(n).Ready, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for k3s on node %s to stop after its reset was handed over: %w (journalctl -u docs-appliance-leave on that host says why)", node, err)
	}
	return nil
}
