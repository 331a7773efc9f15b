package cnpgkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// StorageClass is the class of the volumes Volumes makes, and Cluster's default.
const StorageClass = "cnpg-e2e"

// postgresUID is the user CloudNativePG runs PostgreSQL as (spec.postgresUID's default).
const postgresUID = 26

// Volumes makes count PersistentVolumes of StorageClass, each a folder under the node's run folder
// owned by PostgreSQL's user, for instance volumes to bind to: the e2e node has no provisioner (k3s
// has local-path). The node's Down removes the folders.
func (inst *Installed) Volumes(ctx context.Context, n *node.Node, prefix string, count int, size string) error {
	objs := []*unstructured.Unstructured{{Object: m{
		"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": m{"name": StorageClass},
		"provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate", "reclaimPolicy": "Retain",
	}}}
	for i := range count {
		name := fmt.Sprintf("%s-%d", prefix, i)
		dir := filepath.Join(n.RunDir, "pv", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("making the folder of volume %s: %w", name, err)
		}
		if err := os.Chown(dir, postgresUID, postgresUID); err != nil {
			return fmt.Errorf("giving volume %s to PostgreSQL's user: %w", name, err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m{
			"apiVersion": "v1", "kind": "PersistentVolume", "metadata": m{"name": name},
			"spec": m{
				"capacity": m{"storage": size}, "accessModes": []any{"ReadWriteOnce"},
				"persistentVolumeReclaimPolicy": "Retain", "storageClassName": StorageClass,
				"hostPath": m{"path": dir, "type": "Directory"},
			},
		}})
	}
	if _, err := inst.Client.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		return fmt.Errorf("making volumes for PostgreSQL: %w", err)
	}
	return nil
}
