package cnpgkit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// RecoveryFailure waits until the recovery job of Cluster name (its full-recovery pod) has a
// container that exited with an error, and returns what
// CloudNativePG says when a backup cannot be restored: the error lines of every container of that
// pod, the plugin sidecar's among them (it streams barman-cloud-restore's stderr into its log). It fails when no such exit happens within
// timeout (the recovery is still running, or it succeeded).
func (inst *Installed) RecoveryFailure(ctx context.Context, namespace, name string, timeout time.Duration) (string, error) {
	var reason string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := inst.Client.Kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "cnpg.io/cluster=" + name})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if !strings.Contains(p.Name, "full-recovery") {
				continue
			}
			for _, st := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				term := st.State.Terminated
				if term == nil {
					term = st.LastTerminationState.Terminated
				}
				if term == nil || term.ExitCode == 0 {
					continue
				}
				reason = fmt.Sprintf("pod %s container %s exited %d", p.Name, st.Name, term.ExitCode)
				if lines := inst.errorLines(ctx, &p); len(lines) > 0 {
					reason += ":\n" + strings.Join(lines, "\n")
				}
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for the recovery of Cluster %s/%s to fail: %w", namespace, name, err)
	}
	return reason, nil
}

// errorLines are the error entries of the JSON logs of every container of p (level error, or a
// program's stderr as the plugin streams it, named by the program), the last ten, as
// "container: [program: ]message[: error]".
func (inst *Installed) errorLines(ctx context.Context, p *corev1.Pod) []string {
	var out []string
	tail := int64(200)
	var names []string
	for _, c := range p.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range names {
		logs, err := inst.Client.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c, TailLines: &tail}).DoRaw(ctx)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(logs), "\n") {
			var entry struct {
				Level, Logger, Msg, Error, Pipe string
			}
			if json.Unmarshal([]byte(line), &entry) != nil || (entry.Level != "error" && entry.Pipe != "stderr") {
				continue
			}
			text := c + ": "
			if entry.Logger != "" {
				text += entry.Logger + ": "
			}
			text += entry.Msg
			if entry.Error != "" {
				text += ": " + entry.Error
			}
			out = append(out, text)
		}
	}
	if len(out) > 10 {
		out = out[len(out)-10:]
	}
	return out
}
