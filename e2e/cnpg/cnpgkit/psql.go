package cnpgkit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// PSQL runs one SQL text with psql in the postgres container of pod (an instance, e.g. "pg-1"),
// over the local socket as the postgres user (what `kubectl cnpg psql` does), and returns the
// unaligned, tuples-only output. A failing statement is an error with psql's message.
func (inst *Installed) PSQL(ctx context.Context, namespace, pod, database, sql string) (string, error) {
	req := inst.Client.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: "postgres",
		Command:   []string{"psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-f", "-"},
		Stdin:     true, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(inst.Client.Config, "POST", req.URL())
	if err != nil {
		return "", fmt.Errorf("running psql in %s/%s: %w", namespace, pod, err)
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader(sql), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return stdout.String(), fmt.Errorf("running psql in %s/%s: %w: %s", namespace, pod, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}

// WaitCluster waits until a Cluster is ready: its Ready condition True and every instance ready
// (kstatus alone counts a Cluster the operator has not looked at yet as current). On timeout the
// error names the Cluster's phase and why.
func (inst *Installed) WaitCluster(ctx context.Context, namespace, name string, timeout time.Duration) error {
	ref := cluster.Ref{APIVersion: "postgresql.cnpg.io/v1", Kind: "Cluster", Namespace: namespace, Name: name}
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := inst.get(ctx, ref)
		if err != nil {
			return false, nil
		}
		want, _, _ := unstructured.NestedInt64(u.Object, "spec", "instances")
		ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyInstances")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Ready" && cm["status"] == "True" && ready == want && want > 0 {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		phase, reason := inst.phase(ctx, ref)
		return fmt.Errorf("waiting for Cluster %s/%s (phase %q: %s): %w", namespace, name, phase, reason, err)
	}
	return nil
}

// WaitBackup waits until a Backup is completed and returns it; a failed one is an error with the
// Backup's own message.
func (inst *Installed) WaitBackup(ctx context.Context, namespace, name string, timeout time.Duration) (*unstructured.Unstructured, error) {
	ref := cluster.Ref{APIVersion: "postgresql.cnpg.io/v1", Kind: "Backup", Namespace: namespace, Name: name}
	var last *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := inst.get(ctx, ref)
		if err != nil {
			return false, nil
		}
		last = u
		switch phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase {
		case "completed":
			return true, nil
		case "failed":
			msg, _, _ := unstructured.NestedString(u.Object, "status", "error")
			return false, fmt.Errorf("backup %s/%s failed: %s", namespace, name, msg)
		}
		return false, nil
	})
	if err != nil {
		phase, _ := inst.phase(ctx, ref)
		return last, fmt.Errorf("waiting for Backup %s/%s (phase %q): %w", namespace, name, phase, err)
	}
	return last, nil
}

func (inst *Installed) get(ctx context.Context, ref cluster.Ref) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(ref.APIVersion)
	u.SetKind(ref.Kind)
	gvr, err := inst.Client.Mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
	if err != nil {
		return nil, err
	}
	return inst.Client.Dynamic.Resource(gvr.Resource).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

func (inst *Installed) phase(ctx context.Context, ref cluster.Ref) (phase, reason string) {
	u, err := inst.get(context.WithoutCancel(ctx), ref)
	if err != nil {
		return "", err.Error()
	}
	phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	reason, _, _ = unstructured.NestedString(u.Object, "status", "phaseReason")
	return phase, reason
}
