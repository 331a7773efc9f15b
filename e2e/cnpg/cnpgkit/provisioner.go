package cnpgkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/e2e/node"
)

// provisionedLabel marks the PersistentVolumes Provision made.
const provisionedLabel = "cnpgkit.e2e.docs-appliance.test/provisioned"

// postgresUID is the user CloudNativePG runs PostgreSQL as (spec.postgresUID's default).
const postgresUID = 26

// Provisioner stands in for k3s's local-path provisioner, which the e2e node lacks, for the
// classless claims of CloudNativePG's instances (PVCs labelled cnpg.io/cluster): each pending claim gets a
// host folder under the node's run folder, owned by PostgreSQL's user, as a PersistentVolume bound
// to that claim alone (claimRef; the git server's classless claim must never take one), and a
// volume whose claim is gone is deleted with its folder, as local-path's Delete policy does. So
// Clusters the appliance renders (no storage class: k3s's default serves them) and their
// throwaway restore-check and recovery clusters get volumes as they come, however often.
type Provisioner struct {
	inst *Installed
	dir  string
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	made int
	err  error
}

// Provision starts provisioning until Stop.
func (inst *Installed) Provision(ctx context.Context, n *node.Node) *Provisioner {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Provisioner{inst: inst, dir: filepath.Join(n.RunDir, "pv", "provisioned"), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			err := p.once(ctx)
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop ends the provisioning loop (volumes stay, for the node's Down to remove).
func (p *Provisioner) Stop() { p.stop(); <-p.done }

// Made is how many volumes were made so far; Err the last round's error, if any.
func (p *Provisioner) Made() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made, p.err
}

func (p *Provisioner) once(ctx context.Context) error {
	core := p.inst.Client.Kube.CoreV1()
	claims, err := core.PersistentVolumeClaims("").List(ctx, metav1.ListOptions{LabelSelector: "cnpg.io/cluster"})
	if err != nil {
		return fmt.Errorf("listing PostgreSQL's claims: %w", err)
	}
	for _, c := range claims.Items {
		// A claim naming a class is that class's provisioner's.
		classless := c.Spec.StorageClassName == nil || *c.Spec.StorageClassName == ""
		if !classless || c.Status.Phase != corev1.ClaimPending || c.Spec.VolumeName != "" || c.DeletionTimestamp != nil {
			continue
		}
		if err := p.provision(ctx, &c); err != nil {
			return err
		}
	}
	vols, err := core.PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: provisionedLabel})
	if err != nil {
		return fmt.Errorf("listing the provisioned volumes: %w", err)
	}
	for _, v := range vols.Items {
		if v.Status.Phase != corev1.VolumeReleased && v.Status.Phase != corev1.VolumeFailed {
			continue
		}
		if err := core.PersistentVolumes().Delete(ctx, v.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting released volume %s: %w", v.Name, err)
		}
		if err := os.RemoveAll(filepath.Join(p.dir, v.Name)); err != nil {
			return fmt.Errorf("removing the folder of volume %s: %w", v.Name, err)
		}
	}
	return nil
}

func (p *Provisioner) provision(ctx context.Context, c *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(c.UID)
	dir := filepath.Join(p.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making the folder of volume %s: %w", name, err)
	}
	if err := os.Chown(dir, postgresUID, postgresUID); err != nil {
		return fmt.Errorf("giving volume %s to PostgreSQL's user: %w", name, err)
	}
	mode := corev1.PersistentVolumeFilesystem
	if c.Spec.VolumeMode != nil {
		mode = *c.Spec.VolumeMode
	}
	dirType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{provisionedLabel: "true"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   c.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			VolumeMode:                    &mode,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: c.Namespace, Name: c.Name, UID: c.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}},
		},
	}
	_, err := p.inst.Client.Kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("making volume %s for claim %s/%s: %w", name, c.Namespace, c.Name, err)
	}
	p.mu.Lock()
	p.made++
	p.mu.Unlock()
	return nil
}
