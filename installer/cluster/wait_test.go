package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func TestPodNotReadyReason(t *testing.T) {
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	for name, tc := range map[string]struct {
		pod  corev1.Pod
		want string
	}{
		"ready": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{ready}}}, ""},
		"image pull": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image x not present"}},
		}}}}, "container app waiting: ErrImageNeverPull image x not present"},
		"crashed init": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{
			Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}},
		}}}}, "container init exited 3: Error"},
		"unschedulable": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available",
		}}}}, "not scheduled: Unschedulable 0/1 nodes are available"},
		"probe failing": {corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}}}, "container app running but not ready"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := strings.TrimSpace(podNotReadyReason(&tc.pod)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNotReadyErrorListsEachObjectAndKeepsTheCause(t *testing.T) {
	err := error(&NotReadyError{
		Waited: 2500 * time.Millisecond,
		Cause:  context.DeadlineExceeded,
		Objects: []NotReady{
			{Ref: Ref{Kind: "Deployment", Namespace: "demo", Name: "web"}, Status: status.InProgressStatus, Message: "Available: 0/1; pod web-1: container app waiting: ErrImageNeverPull"},
			{Ref: Ref{Kind: "Namespace", Name: "gone"}, Status: status.NotFoundStatus, Message: "the object does not exist"},
		},
	})
	msg := err.Error()
	for _, want := range []string{
		"2 of the objects waited for are not ready after 3s",
		"Deployment demo/web is InProgress: Available: 0/1; pod web-1: container app waiting: ErrImageNeverPull",
		"Namespace gone is NotFound: the object does not exist",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the context's error is not kept")
	}
}
