package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"
)

// k3s's etcd member controller (k3s-io/k3s#4001, v1.21+) removes the member of a node annotated
// RemoveAnnotation from etcd, then records it under RemovedAnnotation; the Node object stays
// until it is deleted (k3s-io/k3s#9817: "for removing the node from the etcd cluster without
// deleting it").
const (
	RemoveAnnotation  = "etcd.k3s.cattle.io/remove"
	RemovedAnnotation = "etcd.k3s.cattle.io/removed-node-name"
)

// Drain cordons the node and evicts its pods the way `kubectl drain` does (its library): DaemonSet
// pods stay, emptyDir data goes, PodDisruptionBudgets are honoured (an eviction they refuse is
// retried until timeout), filters may keep more pods. On a node that is not Ready the pods cannot
// stop: their eviction is asked, not awaited; the pod garbage collector removes them once the
// Node object is gone.
func Drain(ctx context.Context, kube kubernetes.Interface, name string, nodeReady bool, timeout time.Duration, log io.Writer, filters ...drain.PodFilter) error {
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("draining node %s: %w", name, err)
	}
	h := &drain.Helper{Ctx: ctx, Client: kube, Force: true, GracePeriodSeconds: -1, IgnoreAllDaemonSets: true,
		DeleteEmptyDirData: true, Timeout: timeout, Out: log, ErrOut: log, EvictErrorRetryDelay: time.Second, AdditionalFilters: filters}
	if !nodeReady {
		h.SkipWaitForDeleteTimeoutSeconds = 1
	}
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return fmt.Errorf("cordoning node %s: %w", name, err)
	}
	if err := drain.RunNodeDrain(h, name); err != nil {
		return fmt.Errorf("draining node %s: %w (a PodDisruptionBudget may hold a pod: doctor names what is not ready)", name, err)
	}
	return nil
}

// RemoveEtcdMember asks k3s to remove the node's etcd member and waits until it says it did.
func RemoveEtcdMember(ctx context.Context, kube kubernetes.Interface, name string, poll, timeout time.Duration) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RemoveAnnotation: "true"}}})
	if _, err := kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("asking k3s to remove %s from etcd: %w", name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return n.Annotations[RemovedAnnotation] != "", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for k3s to remove %s from etcd: %w (journalctl -u k3s on a server says why)", name, err)
	}
	return nil
}

// EtcdMemberRemoved reports whether k3s has removed the node's etcd member already.
func EtcdMemberRemoved(n *corev1.Node) bool { return n.Annotations[RemovedAnnotation] != "" }

// DeleteNode deletes the Node object; one already gone is fine.
func DeleteNode(ctx context.Context, kube kubernetes.Interface, name string) error {
	if err := kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", name, err)
	}
	return nil
}
