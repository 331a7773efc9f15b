package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// WaitOptions tune Wait.
type WaitOptions struct {
	Timeout  time.Duration // default 5 minutes
	Interval time.Duration // between polls, default 1 second
}

// NotReady is one object that did not become Current.
type NotReady struct {
	Ref     Ref
	Status  status.Status // InProgress, Failed, Terminating, NotFound, Unknown
	Message string        // kstatus's reason, plus the state of the workload's pods when it has any
}

// NotReadyError lists the objects that were not Current when a wait gave up.
type NotReadyError struct {
	Waited  time.Duration
	Objects []NotReady
	Cause   error // the context's error, or the last error reading an object
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of the objects waited for are not ready after %s:", len(e.Objects), e.Waited.Round(time.Second))
	for _, o := range e.Objects {
		fmt.Fprintf(&b, "\n  %s is %s: %s", o.Ref, o.Status, o.Message)
	}
	if e.Cause != nil && !errors.Is(e.Cause, context.DeadlineExceeded) {
		fmt.Fprintf(&b, "\n  (%v)", e.Cause)
	}
	return b.String()
}

func (e *NotReadyError) Unwrap() error { return e.Cause }

// Wait polls refs until kstatus computes every one of them Current: a Deployment whose replicas
// are updated and available, a Pod that is Ready, a CRD that is Established, a custom resource whose
// Ready condition is True, any object without status once it exists. On timeout or cancellation it
// returns a *NotReadyError naming each object that is not Current, its status and why, including
// the waiting reasons of a workload's pods (ImagePullBackOff, CrashLoopBackOff, ...).
func (c *Client) Wait(ctx context.Context, refs []Ref, opts WaitOptions) error {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	pending := map[Ref]NotReady{}
	for _, r := range refs {
		pending[r] = NotReady{Ref: r, Status: status.UnknownStatus, Message: "not read yet"}
	}
	var lastErr error
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		for r := range pending {
			nr, err := c.objectStatus(ctx, r)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				lastErr = err
				continue
			}
			if nr.Status == status.CurrentStatus {
				delete(pending, r)
				continue
			}
			pending[r] = nr
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return c.notReady(pending, time.Since(start), errors.Join(ctx.Err(), lastErr))
		case <-tick.C:
		}
	}
}

func (c *Client) notReady(pending map[Ref]NotReady, waited time.Duration, cause error) error {
	e := &NotReadyError{Waited: waited, Cause: cause}
	for _, nr := range pending {
		e.Objects = append(e.Objects, nr)
	}
	sort.Slice(e.Objects, func(i, j int) bool { return e.Objects[i].Ref.String() < e.Objects[j].Ref.String() })
	return e
}

func (c *Client) objectStatus(ctx context.Context, r Ref) (NotReady, error) {
	nr := NotReady{Ref: r}
	ri, err := c.resourceFor(&r, "")
	if err != nil {
		return nr, err
	}
	u, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		nr.Status, nr.Message = status.NotFoundStatus, "the object does not exist"
		return nr, nil
	}
	if err != nil {
		return nr, fmt.Errorf("reading %s: %w", r, err)
	}
	res, err := status.Compute(u)
	if err != nil {
		return nr, fmt.Errorf("computing the status of %s: %w", r, err)
	}
	nr.Status, nr.Message = res.Status, res.Message
	if res.Status != status.CurrentStatus {
		if pods := c.podTrouble(ctx, u); pods != "" {
			nr.Message += "; " + pods
		}
	}
	return nr, nil
}

// podTrouble describes the pods of a workload that are not ready, or "" when it has none to show.
func (c *Client) podTrouble(ctx context.Context, u *unstructured.Unstructured) string {
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
	default:
		return ""
	}
	labels, found, err := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if err != nil || !found || len(labels) == 0 {
		return ""
	}
	sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: labels})
	pods, err := c.Kube.CoreV1().Pods(u.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return ""
	}
	if len(pods.Items) == 0 {
		return "no pods"
	}
	var parts []string
	for _, p := range pods.Items {
		if why := podNotReadyReason(&p); why != "" {
			parts = append(parts, "pod "+p.Name+": "+why)
		}
	}
	return strings.Join(parts, "; ")
}

// podNotReadyReason says why a pod is not ready, or "" when it is.
func podNotReadyReason(p *corev1.Pod) string {
	if isPodReady(p) {
		return ""
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			return fmt.Sprintf("container %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			return fmt.Sprintf("container %s exited %d: %s %s", cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Reason, cs.State.Terminated.Message)
		case cs.State.Running != nil && !cs.Ready:
			return fmt.Sprintf("container %s running but not ready", cs.Name)
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
			return fmt.Sprintf("not scheduled: %s %s", cond.Reason, cond.Message)
		}
	}
	return "phase " + string(p.Status.Phase)
}

func isPodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Status computes one object's kstatus now (Current, InProgress, Failed, NotFound...), with the
// state of a workload's pods in the message when it is not Current.
func (c *Client) Status(ctx context.Context, r Ref) (NotReady, error) { return c.objectStatus(ctx, r) }
