package doctor

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// appLayers hold Docs itself.
var appLayers = []string{"apps"}

func appChecks() []Check {
	return []Check{
		{ID: "app-workloads", Group: "app", Title: "Docs' services available", Run: checkAppWorkloads},
		{ID: "app-migrations", Group: "app", Title: "database migrations done", Run: checkMigrations},
		{ID: "app-workers", Group: "app", Title: "background workers running", Run: checkWorkers},
	}
}

// workloadFix: Flux re-applies what Git says within its interval; a
// workload that crashes needs its logs.
const workloadFix = "if it was scaled or changed by hand, Flux restores Git's version within 10 minutes (now: flux reconcile kustomization apps --with-source); if its pods crash, their logs are in the support bundle (doctor --support-bundle FILE)"

func checkAppWorkloads(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	good, bad, err := workloads(ctx, e, appLayers, nil)
	if err != nil {
		return apiError("reading the application's layer", err)
	}
	if len(good)+len(bad) == 0 {
		return Fail("run docs-appliance install: the application layer has not been applied", "no application workload applied")
	}
	if len(bad) > 0 {
		return Fail(workloadFix, "%d of %d not available: %s", len(bad), len(good)+len(bad), strings.Join(bad, "; "))
	}
	return Pass("%d available: %s", len(good), limitList(good, 6))
}

// isWorker: a workload whose containers serve no port works from a queue.
func isWorker(u *unstructured.Unstructured) bool {
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		m, _ := c.(map[string]any)
		if ports, _ := m["ports"].([]any); len(ports) > 0 {
			return false
		}
	}
	return len(containers) > 0
}

func checkWorkers(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	good, bad, err := workloads(ctx, e, appLayers, isWorker)
	if err != nil {
		return apiError("reading the application's layer", err)
	}
	if len(good)+len(bad) == 0 {
		return Skip("this application has no background worker")
	}
	if len(bad) > 0 {
		return Fail(workloadFix, "%d of %d worker(s) not running: %s", len(bad), len(good)+len(bad), strings.Join(bad, "; "))
	}
	return Pass("%d running: %s", len(good), strings.Join(good, ", "))
}

func checkMigrations(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	refs, err := inventory(ctx, e, appLayers, "batch/Job")
	if err != nil {
		return apiError("reading the application's layer", err)
	}
	if len(refs) == 0 {
		return Skip("this application runs no migration job")
	}
	var done, running, failed []string
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		succeeded, _, _ := unstructured.NestedInt64(u.Object, "status", "succeeded")
		if s, _, msg, _ := condition(u, "Failed"); s == "True" {
			failed = append(failed, fmt.Sprintf("%s: %s", r.Name, orText(msg, "failed")))
			continue
		}
		if succeeded > 0 {
			done = append(done, r.Name)
		} else {
			running = append(running, r.Name)
		}
	}
	if len(failed) > 0 {
		return Fail("the job's log (in the support bundle: doctor --support-bundle FILE) says why; after fixing the cause, Flux runs it again at its next apply (flux reconcile kustomization apps --with-source)",
			"%s", strings.Join(failed, "; "))
	}
	if len(running) > 0 {
		return Warn("wait for it to finish (a first migration can take minutes), then run doctor again", "still running: %s", strings.Join(running, ", "))
	}
	return Pass("%d job(s) succeeded: %s", len(done), strings.Join(done, ", "))
}
