package nodes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

// SwapImageRepository names the image that takes a rollout's k3s to the other nodes. No registry
// serves it: it is imported into this server's containerd, and the other nodes pull it from
// there through k3s's embedded registry mirror, which mirrors every registry ("*").
const SwapImageRepository = "docs-appliance.local/k3s-swap"

// Paths inside the swap image, and where the host's / is mounted in its pod.
const (
	swapK3sPath       = "/k3s"
	swapAppliancePath = "/docs-appliance"
	swapHostRoot      = "/host"
)

// SwapImage is the swap image as built: its reference by digest, and the sum of the k3s it carries.
type SwapImage struct {
	// Ref is name:tag@digest, what the swap pods run (by digest: nothing else can answer to it).
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
	var files []gitserver.ImageFile
	var arch elf.Machine
	for _, f := range []struct{ src, dst string }{{k3sBinary, swapK3sPath}, {appliance, swapAppliancePath}} {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return nil, fmt.Errorf("building the k3s swap image: %w", err)
		}
		m, err := staticELF(data)
		if err != nil {
			return nil, fmt.Errorf("building the k3s swap image: %s: %w", f.src, err)
		}
		if arch == 0 {
			arch = m
		} else if m != arch {
			return nil, fmt.Errorf("building the k3s swap image: %s is for %s, %s for %s", k3sBinary, arch, f.src, m)
		}
		files = append(files, gitserver.ImageFile{Path: f.dst, Mode: 0o755, Data: data})
	}
	sum := sha256.Sum256(files[0].Data)
	layerTar, err := gitserver.Layer(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("building the k3s swap image's layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	goarch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[arch]
	if goarch == "" {
		return nil, fmt.Errorf("building the k3s swap image: %s is for %s, which k3s does not ship", k3sBinary, arch)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: goarch, OS: "linux",
		Config: v1.Config{Entrypoint: []string{swapAppliancePath}, WorkingDir: "/"}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		return nil, fmt.Errorf("configuring the k3s swap image: %w", err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, fmt.Errorf("building the k3s swap image: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	tag, err := name.NewTag(SwapImageRepository + ":" + strings.NewReplacer("+", "-").Replace(version))
	if err != nil {
		return nil, fmt.Errorf("naming the k3s swap image after %q: %w", version, err)
	}
	if err := gitserver.WriteOCIArchive(img, tag, archive); err != nil {
		return nil, err
	}
	return &SwapImage{Ref: tag.Name() + "@" + digest.String(), Archive: archive, K3sSHA256: hex.EncodeToString(sum[:])}, nil
}

// staticELF returns a program's machine, refusing one that needs a dynamic loader.
func staticELF(data []byte) (elf.Machine, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("not a Linux program: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return 0, errors.New("a dynamically linked program, which the swap image cannot run (build docs-appliance with make build: CGO_ENABLED=0)")
		}
	}
	return f.Machine, nil
}

// SwapNamespace holds the swap Jobs: k3s's own namespace, which admission policies leave to
// the cluster's components.
const SwapNamespace = "kube-system"

// SwapJobName is the swap Job of a node for an image: one per node and target, at most 63
// characters as a label value must be.
func SwapJobName(node string, img *SwapImage) string {
	h := sha256.Sum256([]byte(node + "\x00" + img.Ref))
	short := node
	if len(short) > 40 {
		short = strings.TrimRight(short[:40], "-.")
	}
	return "k3s-swap-" + short + "-" + hex.EncodeToString(h[:])[:8]
}

// SwapJob runs the swap on one node: pinned to it (a cordoned node still runs a pod bound by
// name), every taint tolerated, privileged with the host's / and process namespace, no retry
// (a failed swap is the operator's to read, not to repeat blindly).
func SwapJob(node string, img *SwapImage) *batchv1.Job {
	labels := map[string]string{"app.kubernetes.io/managed-by": "docs-appliance", "app.kubernetes.io/component": "k3s-swap"}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: SwapJobName(node, img), Namespace: SwapNamespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0), TTLSecondsAfterFinished: ptr.To[int32](24 * 3600), ActiveDeadlineSeconds: ptr.To[int64](600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName: node, HostPID: true, RestartPolicy: corev1.RestartPolicyNever,
					PriorityClassName: "system-node-critical",
					Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "swap", Image: img.Ref, ImagePullPolicy: corev1.PullIfNotPresent,
						Args:                     []string{"node", "swap-k3s", "--host-root", swapHostRoot, "--binary", swapK3sPath, "--sha256", img.K3sSHA256},
						SecurityContext:          &corev1.SecurityContext{Privileged: ptr.To(true)},
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						VolumeMounts:             []corev1.VolumeMount{{Name: "host", MountPath: swapHostRoot}},
					}},
					Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/", Type: ptr.To(corev1.HostPathDirectory)}}}},
				},
			},
		},
	}
}

// pullFailures are the waiting reasons of a container whose image does not come.
var pullFailures = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

// RunSwap runs the node's swap Job to its end. A Job of an earlier run that succeeded counts; one
// that failed is replaced.
func RunSwap(ctx context.Context, kube kubernetes.Interface, node string, img *SwapImage, poll, timeout time.Duration) error {
	jobs := kube.BatchV1().Jobs(SwapNamespace)
	want := SwapJob(node, img)
	if old, err := jobs.Get(ctx, want.Name, metav1.GetOptions{}); err == nil && old.Status.Failed > 0 {
		if err := jobs.Delete(ctx, want.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the failed swap Job %s: %w", want.Name, err)
		}
		if err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
			_, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			return fmt.Errorf("waiting for the failed swap Job %s to go: %w", want.Name, err)
		}
	}
	if _, err := jobs.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the swap Job %s: %w", want.Name, err)
	}
	var why string
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		j, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if j.Status.Succeeded > 0 {
			return true, nil
		}
		pods, err := kube.CoreV1().Pods(SwapNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + want.Name})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && pullFailures[w.Reason] {
					return false, fmt.Errorf("the swap image did not reach node %s (%s: %s): k3s's embedded registry mirror serves it from this server; "+
						"is embedded-registry on? Or copy %s to that node and run k3s ctr -n k8s.io images import %s there", node, w.Reason, w.Message, img.Archive, filepath.Base(img.Archive))
				}
				if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
					why = strings.TrimSpace(t.Message)
				}
			}
		}
		if j.Status.Failed > 0 {
			return false, fmt.Errorf("the swap on node %s failed: %s", node, orElse(why, "kubectl -n "+SwapNamespace+" logs job/"+want.Name+" says why"))
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("swapping k3s on node %s (Job %s/%s): %w", node, SwapNamespace, want.Name, err)
	}
	return nil
}

func orElse(s, other string) string {
	if s == "" {
		return other
	}
	return s
}
