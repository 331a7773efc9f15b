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

// A host Job runs this program on one node, on the host's behalf: the swap of a rollout, the
// reset of a node leaving. Its image holds static programs only; no registry serves it: it is
// imported into this server's containerd, and the other nodes pull it from there through k3s's
// embedded registry mirror, which mirrors every registry ("*").

// Where this program sits in a host image, and where the host's / is mounted in its pod.
const (
	appliancePath = "/docs-appliance"
	hostRootMount = "/host"
)

// imageFile is a program a host image carries: read from src, put at dst.
type imageFile struct{ src, dst string }

// buildHostImage writes an image of static programs to archive as repo:tag and returns its
// reference by digest (nothing else can answer to it) and each program's content. what names the
// image in errors.
func buildHostImage(what, repo, tag string, progs []imageFile, archive string) (string, [][]byte, error) {
	var files []gitserver.ImageFile
	var contents [][]byte
	var arch elf.Machine
	for _, f := range progs {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return "", nil, fmt.Errorf("building the %s image: %w", what, err)
		}
		m, err := staticELF(data)
		if err != nil {
			return "", nil, fmt.Errorf("building the %s image: %s: %w", what, f.src, err)
		}
		if arch == 0 {
			arch = m
		} else if m != arch {
			return "", nil, fmt.Errorf("building the %s image: %s is for %s, %s for %s", what, progs[0].src, arch, f.src, m)
		}
		files = append(files, gitserver.ImageFile{Path: f.dst, Mode: 0o755, Data: data})
		contents = append(contents, data)
	}
	goarch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[arch]
	if goarch == "" {
		return "", nil, fmt.Errorf("building the %s image: %s is for %s, which k3s does not ship", what, progs[0].src, arch)
	}
	layerTar, err := gitserver.Layer(files)
	if err != nil {
		return "", nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return "", nil, fmt.Errorf("building the %s image's layer: %w", what, err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: goarch, OS: "linux",
		Config: v1.Config{Entrypoint: []string{appliancePath}, WorkingDir: "/"}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		return "", nil, fmt.Errorf("configuring the %s image: %w", what, err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", nil, fmt.Errorf("building the %s image: %w", what, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", nil, err
	}
	t, err := name.NewTag(repo + ":" + strings.NewReplacer("+", "-").Replace(tag))
	if err != nil {
		return "", nil, fmt.Errorf("naming the %s image after %q: %w", what, tag, err)
	}
	if err := gitserver.WriteOCIArchive(img, t, archive); err != nil {
		return "", nil, err
	}
	return t.Name() + "@" + digest.String(), contents, nil
}

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
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
			return 0, errors.New("a dynamically linked program, which a host image cannot run (build docs-appliance with make build: CGO_ENABLED=0)")
		}
	}
	return f.Machine, nil
}

// HostJobNamespace holds the host Jobs: k3s's own namespace, which admission policies leave to
// the cluster's components.
const HostJobNamespace = "kube-system"

// SwapNamespace is where the swap Jobs run.
const SwapNamespace = HostJobNamespace

// hostJobName is the name of the Job of component on node for image ref: one per node and image,
// at most 63 characters as a label value must be.
func hostJobName(component, node, ref string) string {
	h := sha256.Sum256([]byte(node + "\x00" + ref))
	short := node
	if len(short) > 40 {
		short = strings.TrimRight(short[:40], "-.")
	}
	return component + "-" + short + "-" + hex.EncodeToString(h[:])[:8]
}

// hostJob runs image ref with args on one node: pinned to it (a cordoned node still runs a pod
// bound by name), every taint tolerated, privileged with the host's / and process namespace, no
// retry (a failed run is the operator's to read, not to repeat blindly).
func hostJob(component, node, ref string, args []string) *batchv1.Job {
	labels := map[string]string{"app.kubernetes.io/managed-by": "docs-appliance", "app.kubernetes.io/component": component}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: hostJobName(component, node, ref), Namespace: HostJobNamespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0), TTLSecondsAfterFinished: ptr.To[int32](24 * 3600), ActiveDeadlineSeconds: ptr.To[int64](600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName: node, HostPID: true, RestartPolicy: corev1.RestartPolicyNever,
					PriorityClassName: "system-node-critical",
					Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: component, Image: ref, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
						SecurityContext:          &corev1.SecurityContext{Privileged: ptr.To(true)},
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						VolumeMounts:             []corev1.VolumeMount{{Name: "host", MountPath: hostRootMount}},
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

// HostJobError is a host Job that ran and failed: what it said (its termination message).
type HostJobError struct{ What, Node, Why string }

func (e *HostJobError) Error() string {
	return fmt.Sprintf("the %s on node %s failed: %s", e.What, e.Node, e.Why)
}

// runHostJob runs want on node to its end; what names it in errors ("swap", "leave"), archive is
// the image's archive to import by hand when the mirror does not serve it. A Job of an earlier
// run that succeeded counts; one that failed is replaced.
func runHostJob(ctx context.Context, kube kubernetes.Interface, node, what string, want *batchv1.Job, archive string, poll, timeout time.Duration) error {
	jobs := kube.BatchV1().Jobs(want.Namespace)
	if old, err := jobs.Get(ctx, want.Name, metav1.GetOptions{}); err == nil && old.Status.Failed > 0 {
		if err := jobs.Delete(ctx, want.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the failed %s Job %s: %w", what, want.Name, err)
		}
		if err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
			_, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			return fmt.Errorf("waiting for the failed %s Job %s to go: %w", what, want.Name, err)
		}
	}
	if _, err := jobs.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the %s Job %s: %w", what, want.Name, err)
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
		pods, err := kube.CoreV1().Pods(want.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + want.Name})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && pullFailures[w.Reason] {
					return false, fmt.Errorf("the %s image did not reach node %s (%s: %s): k3s's embedded registry mirror serves it from this server; "+
						"is embedded-registry on? Or copy %s to that node and run k3s ctr -n k8s.io images import %s there", what, node, w.Reason, w.Message, archive, filepath.Base(archive))
				}
				if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
					why = strings.TrimSpace(t.Message)
				}
			}
		}
		if j.Status.Failed > 0 {
			return false, &HostJobError{What: what, Node: node, Why: orElse(why, "kubectl -n "+want.Namespace+" logs job/"+want.Name+" says why")}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("running the %s on node %s (Job %s/%s): %w", what, node, want.Namespace, want.Name, err)
	}
	return nil
}

func orElse(s, other string) string {
	if s == "" {
		return other
	}
	return s
}
