package restorecheck

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// The tests run Run against a real API server (envtest). No controllers
// run there: the test plays the Job controller and the check's pod,
// marking the Job finished and recording the result the way
// restore-check.sh does. e2e/cnpg runs the real CronJob on real
// CloudNativePG.

func setup(t *testing.T) (kubernetes.Interface, *batchv1.CronJob) {
	old := pollEvery
	pollEvery = 50 * time.Millisecond
	t.Cleanup(func() { pollEvery = old })
	env := envtest.New(t)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := render.DatabaseNamespace
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: render.RestoreCheckCronJob, Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "30 4 * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "restore-check"}},
				Spec: batchv1.JobSpec{BackoffLimit: new(int32), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "check", Image: "registry.k8s.io/kubectl:v1.35.2", Command: []string{"/bin/bash", "/restore-check/restore-check.sh"}}},
				}}}}},
	}
	cron, err = kube.BatchV1().CronJobs(ns).Create(ctx, cron, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return kube, cron
}

// finish records data as the check's result and marks the Job ended.
func finish(t *testing.T, kube kubernetes.Interface, job *batchv1.Job, data map[string]string, ok bool) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: render.RestoreCheckResult, Namespace: job.Namespace}, Data: data}
	if _, err := kube.CoreV1().ConfigMaps(job.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		if _, err := kube.CoreV1().ConfigMaps(job.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	if ok {
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "BackoffLimitExceeded"}}
	}
	if _, err := kube.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ownedJobs(t *testing.T, kube kubernetes.Interface, cron *batchv1.CronJob) []batchv1.Job {
	t.Helper()
	jobs, err := kube.BatchV1().Jobs(cron.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range jobs.Items {
		for _, o := range j.OwnerReferences {
			if o.UID == cron.UID {
				out = append(out, j)
			}
		}
	}
	return out
}

type outcome struct {
	res *Result
	err error
}

func runAsync(kube kubernetes.Interface, timeout time.Duration) chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), kube, timeout)
		ch <- outcome{res, err}
	}()
	return ch
}

func waitJob(t *testing.T, kube kubernetes.Interface, cron *batchv1.CronJob) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		if jobs := ownedJobs(t, kube, cron); len(jobs) > 0 {
			job = &jobs[0]
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatal("Run made no Job")
	}
	return job
}

func TestRun(t *testing.T) {
	kube, cron := setup(t)

	t.Run("makes a Job from the CronJob and returns its result", func(t *testing.T) {
		ch := runAsync(kube, time.Minute)
		job := waitJob(t, kube, cron)
		ref := job.OwnerReferences[0]
		if ref.Kind != "CronJob" || ref.Name != cron.Name || ref.Controller == nil || !*ref.Controller ||
			job.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" || job.Labels["app.kubernetes.io/name"] != "restore-check" ||
			!strings.HasPrefix(job.Name, "restore-check-now-") ||
			job.Spec.Template.Spec.Containers[0].Command[1] != "/restore-check/restore-check.sh" {
			t.Errorf("the Job is not the CronJob's: %+v", job.ObjectMeta)
		}
		finish(t, kube, job, map[string]string{"status": "passed", "message": "recovered", "job": job.Name, "backup": "postgres-daily-1",
			"finishedAt": "2026-12-02T04:40:00Z", "rtoSeconds": "312", "rpoSeconds": "41", "heartbeatAt": "2026-12-02T04:34:01.123456Z",
			"recoveredTo": "2026-12-02T04:34:01.123456Z", "users": "45", "liveUsers": "45"}, true)
		o := <-ch
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.res.RTO != 312*time.Second || o.res.RPO != 41*time.Second || o.res.Counts["users"] != 45 || !o.res.RecoveredTo.Equal(o.res.HeartbeatAt) || o.res.Backup != "postgres-daily-1" {
			t.Errorf("result %+v", o.res)
		}
		background := metav1.DeletePropagationBackground
		if err := kube.BatchV1().Jobs(job.Namespace).Delete(context.Background(), job.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("waits for the CronJob's running Job and reports its failure", func(t *testing.T) {
		// The CronJob's scheduled run, already going.
		controller := true
		running, err := kube.BatchV1().Jobs(cron.Namespace).Create(context.Background(), &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "restore-check-29412345", Namespace: cron.Namespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: &controller}}},
			Spec: *cron.Spec.JobTemplate.Spec.DeepCopy(),
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ch := runAsync(kube, time.Minute)
		time.Sleep(500 * time.Millisecond)
		if jobs := ownedJobs(t, kube, cron); len(jobs) != 1 {
			t.Fatalf("%d Jobs while one was running: Run started a second", len(jobs))
		}
		finish(t, kube, running, map[string]string{"status": "failed", "job": running.Name,
			"message": "recovering backup postgres-daily-1 failed: pod restore-check-1-full-recovery-x container full-recovery exited 1"}, false)
		o := <-ch
		var failed *FailedError
		if !errors.As(o.err, &failed) || !strings.Contains(failed.Result.Message, "full-recovery exited 1") {
			t.Fatalf("got %v, want the recorded failure", o.err)
		}
	})

	t.Run("a Job that records nothing is an error, not an old result", func(t *testing.T) {
		ch := runAsync(kube, time.Minute)
		var job *batchv1.Job
		_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			for _, j := range ownedJobs(t, kube, cron) {
				if finished(&j) == "" {
					job = &j
					return true, nil
				}
			}
			return false, nil
		})
		if job == nil {
			t.Fatal("Run made no Job")
		}
		// The result still names the previous run.
		finish(t, kube, job, map[string]string{"status": "failed", "job": "restore-check-29412345", "message": "old"}, false)
		o := <-ch
		var failed *FailedError
		if o.err == nil || errors.As(o.err, &failed) || !strings.Contains(o.err.Error(), "ended failed without recording its result") {
			t.Fatalf("got %v", o.err)
		}
	})

	t.Run("times out naming the Job", func(t *testing.T) {
		_, err := Run(context.Background(), kube, 300*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "still running") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestParse(t *testing.T) {
	if _, err := Parse(map[string]string{"status": "passed", "rtoSeconds": "soon"}); err == nil || !strings.Contains(err.Error(), "rtoSeconds") {
		t.Errorf("a bad number: %v", err)
	}
	if _, err := Parse(map[string]string{"status": "maybe"}); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("a bad status: %v", err)
	}
}
