package restorecheck

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/installer/render"
)

// ErrNotInstalled: the appliance has no restore-check CronJob (it renders
// one with every database).
var ErrNotInstalled = errors.New("the restore check is not installed")

// pollEvery is how often Run looks at the Job.
var pollEvery = 3 * time.Second

// Run runs the restore check now and returns its result: a Job made from
// the CronJob's jobTemplate, as `kubectl create job --from=cronjob` makes
// it (owned by the CronJob, so the CronJob's concurrencyPolicy Forbid
// counts it), or, when a Job of the CronJob is already running, that one,
// never a second. A check that failed is a *FailedError with the recorded
// reason; a Job that ends without recording its result is an error with
// its pod's last words. On timeout the Job keeps running (it cleans up
// after itself) and the error names it.
func Run(ctx context.Context, kube kubernetes.Interface, timeout time.Duration) (*Result, error) {
	ns := render.DatabaseNamespace
	cron, err := kube.BatchV1().CronJobs(ns).Get(ctx, render.RestoreCheckCronJob, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: CronJob %s/%s is missing", ErrNotInstalled, ns, render.RestoreCheckCronJob)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CronJob %s/%s: %w", ns, render.RestoreCheckCronJob, err)
	}
	job, err := activeJob(ctx, kube, cron)
	if err != nil {
		return nil, err
	}
	if job == nil {
		if job, err = kube.BatchV1().Jobs(ns).Create(ctx, jobFrom(cron, time.Now()), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating the restore-check Job from CronJob %s/%s: %w", ns, cron.Name, err)
		}
	}
	return Wait(ctx, kube, job.Name, timeout)
}

// Wait waits for Job name (of the restore check) to end and returns the
// result it recorded, as Run does.
func Wait(ctx context.Context, kube kubernetes.Interface, name string, timeout time.Duration) (*Result, error) {
	ns := render.DatabaseNamespace
	var job *batchv1.Job
	err := wait.PollUntilContextTimeout(ctx, pollEvery, timeout, true, func(ctx context.Context) (bool, error) {
		j, err := kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("the restore-check Job %s/%s was deleted before it ended", ns, name)
		}
		if err != nil {
			// The API server may be restarting: look again.
			return false, nil
		}
		job = j
		return finished(j) != "", nil
	})
	if err != nil {
		if job != nil && finished(job) == "" {
			return nil, fmt.Errorf("waiting for the restore check (Job %s/%s, still running; it removes its throwaway cluster when it ends): %w", ns, name, err)
		}
		return nil, err
	}
	res, err := Read(ctx, kube)
	if err != nil && !errors.Is(err, ErrNoResult) {
		return nil, err
	}
	if res == nil || res.Job != name {
		return nil, fmt.Errorf("the restore check (Job %s/%s) ended %s without recording its result%s", ns, name, finished(job), lastWords(ctx, kube, name))
	}
	if res.Status != Passed {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

// finished is "complete" or "failed" for a Job that ended, "" otherwise.
func finished(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "complete"
		case batchv1.JobFailed:
			return "failed"
		}
	}
	return ""
}

// activeJob is a running Job the CronJob owns, or nil.
func activeJob(ctx context.Context, kube kubernetes.Interface, cron *batchv1.CronJob) (*batchv1.Job, error) {
	jobs, err := kube.BatchV1().Jobs(cron.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the Jobs in %s: %w", cron.Namespace, err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if finished(j) != "" || j.DeletionTimestamp != nil {
			continue
		}
		for _, o := range j.OwnerReferences {
			if o.UID == cron.UID {
				return j, nil
			}
		}
	}
	return nil, nil
}

// jobFrom is the Job `kubectl create job --from=cronjob/<name>` makes: the
// jobTemplate's labels, annotations and spec, marked as a manual run,
// owned (controller) by the CronJob, named by the time and a random tail.
func jobFrom(cron *batchv1.CronJob, now time.Time) *batchv1.Job {
	annotations := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	for k, v := range cron.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	controller := true
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("%s-now-%s-%s", cron.Name, strings.ToLower(now.UTC().Format("20060102t150405")), strings.ToLower(rand.Text()[:4])),
			Namespace:   cron.Namespace,
			Labels:      cron.Spec.JobTemplate.Labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: &controller,
			}},
		},
		Spec: *cron.Spec.JobTemplate.Spec.DeepCopy(),
	}
}

// lastWords are the last log lines of the Job's pod, for a Job that
// recorded nothing (a crash before its first record).
func lastWords(ctx context.Context, kube kubernetes.Interface, job string) string {
	pods, err := kube.CoreV1().Pods(render.DatabaseNamespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	tail := int64(10)
	p := pods.Items[len(pods.Items)-1]
	logs, err := kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
	if err != nil || len(strings.TrimSpace(string(logs))) == 0 {
		return ""
	}
	return fmt.Sprintf("; pod %s said:\n%s", p.Name, strings.TrimSpace(string(logs)))
}
