package doctor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
)

// How old the newest backup and restore check may be: both run daily,
// so a day and a bit of slack is on time, three days is a broken schedule.
const (
	backupWarnAge  = 26 * time.Hour
	backupFailAge  = 72 * time.Hour
	restoreWarnAge = 50 * time.Hour
	// RPOWarn bounds the data a disaster may lose, as the restore check
	// measured it (the age of the newest archived WAL): archive_timeout is
	// 5min, so three times that means the archiver is falling behind.
	RPOWarn = 15 * time.Minute
)

func platformChecks() []Check {
	return []Check{
		{ID: "platform-operators", Group: "platform", Title: "every operator running", Run: checkOperators},
		{ID: "platform-database", Group: "platform", Title: "the database cluster healthy", Run: checkDatabase},
		{ID: "platform-backup-age", Group: "platform", Title: "a recent database backup", Run: checkBackupAge},
		{ID: "platform-restore-check", Group: "platform", Title: "the last restore check passed, recently", Run: checkRestoreCheck},
		{ID: "platform-backup-target", Group: "platform", Title: "backups kept off this server", Run: checkBackupTarget},
		{ID: "platform-cache", Group: "platform", Title: "the cache running", Run: checkCache},
		{ID: "platform-identity", Group: "platform", Title: "the identity realm imported and its server ready", Run: checkIdentity},
	}
}

func checkOperators(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	good, bad, err := workloads(ctx, e, []string{"operators"}, nil)
	if err != nil {
		return apiError("reading the operators' layer", err)
	}
	if len(good)+len(bad) == 0 {
		return Skip("this appliance runs no operator")
	}
	if len(bad) > 0 {
		return Fail(workloadFix, "%d of %d operator(s) not running: %s", len(bad), len(good)+len(bad), strings.Join(bad, "; "))
	}
	return Pass("%d running: %s", len(good), limitList(good, 6))
}

var (
	cnpgCluster = "postgresql.cnpg.io/Cluster"
	backupGVR   = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}
)

func databases(ctx context.Context, e *Env) ([]cluster.Ref, Finding, bool) {
	if f, down := kubeDown(e); down {
		return nil, f, false
	}
	refs, err := inventory(ctx, e, nil, cnpgCluster)
	if err != nil {
		return nil, apiError("reading the platform's layer", err), false
	}
	if len(refs) == 0 {
		return nil, Skip("this appliance has no database cluster of its own"), false
	}
	return refs, Finding{}, true
}

func checkDatabase(ctx context.Context, e *Env) Finding {
	refs, f, ok := databases(ctx, e)
	if !ok {
		return f
	}
	var good, bad []string
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		want, _, _ := unstructured.NestedInt64(u.Object, "spec", "instances")
		ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyInstances")
		if s, _, msg, _ := condition(u, "Ready"); s != "True" || ready < want {
			bad = append(bad, fmt.Sprintf("%s: %d of %d instance(s) ready, %s", r.Name, ready, want, orText(msg, orText(phase, "not ready"))))
			continue
		}
		good = append(good, fmt.Sprintf("%s (%d instance(s))", r.Name, ready))
	}
	if len(bad) > 0 {
		return Fail("the database pods' logs are in the support bundle (doctor --support-bundle FILE); a full disk is the usual cause (doctor --group host)",
			"%s", strings.Join(bad, "; "))
	}
	return Pass("healthy: %s", strings.Join(good, ", "))
}

// checkBackupAge finds the newest completed Backup of each database cluster.
func checkBackupAge(ctx context.Context, e *Env) Finding {
	refs, f, ok := databases(ctx, e)
	if !ok {
		return f
	}
	var lines []string
	worst := Pass("")
	for _, r := range refs {
		list, err := e.Kube.Dynamic.Resource(backupGVR).Namespace(r.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return apiError("listing the database's backups", err)
		}
		var newest time.Time
		failedAfter := 0
		for _, b := range list.Items {
			if c, _, _ := unstructured.NestedString(b.Object, "spec", "cluster", "name"); c != r.Name {
				continue
			}
			phase, _, _ := unstructured.NestedString(b.Object, "status", "phase")
			stopped, _, _ := unstructured.NestedString(b.Object, "status", "stoppedAt")
			t, err := time.Parse(time.RFC3339, stopped)
			if phase == "completed" && err == nil && t.After(newest) {
				newest = t
			}
		}
		for _, b := range list.Items {
			phase, _, _ := unstructured.NestedString(b.Object, "status", "phase")
			if phase == "failed" && b.GetCreationTimestamp().After(newest) {
				failedAfter++
			}
		}
		fix := "take one now: docs-appliance backup now; if backups fail, the reason is in docs-appliance backup list"
		if newest.IsZero() {
			worst = Fail(fix, "%s has no completed backup", r.Name)
			lines = append(lines, r.Name+": none")
			continue
		}
		age := e.now().Sub(newest)
		line := fmt.Sprintf("%s: newest completed %s ago", r.Name, ageText(age))
		if failedAfter > 0 {
			line += fmt.Sprintf(", %d failed since", failedAfter)
		}
		lines = append(lines, line)
		switch {
		case age > backupFailAge && worst.Outcome != Failed:
			worst = Fail(fix, "%s", line)
		case (age > backupWarnAge || failedAfter > 0) && worst.Outcome == Passed:
			worst = Warn(fix, "%s", line)
		}
	}
	if worst.Outcome == Passed {
		return Pass("%s", strings.Join(lines, "; "))
	}
	return worst
}

// checkBackupTarget: backups in the embedded object store share this server's disk with the
// data they are to bring back.
func checkBackupTarget(_ context.Context, e *Env) Finding {
	if e.Config == nil {
		return Skip("no saved config to read the backup target from")
	}
	if e.Train != nil {
		if _, ok := e.Train.Chart("cloudnative-pg"); !ok {
			return Skip("train %s carries no database to back up", e.Train.Name)
		}
	}
	l := e.Config.BackupLocation()
	if l.Embedded {
		return Warn("set backup.mode external with an S3 bucket off this server (docs-appliance configure checks it live), then run install",
			"backups go to the embedded object store (%s), on this server's disk: the same disk is not a backup", l.URL())
	}
	return Pass("backups go to %s at %s", l.URL(), l.Endpoint)
}

func ageText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return d.Round(time.Second).String()
}

// checkRestoreCheck reads what the last restore check recorded: its
// outcome, age, time to restore (RTO) and data at risk (RPO).
func checkRestoreCheck(ctx context.Context, e *Env) Finding {
	if _, f, ok := databases(ctx, e); !ok {
		return f
	}
	fix := "run one now and read its report: docs-appliance restore-check now"
	r, err := restorecheck.Read(ctx, e.Kube.Kube)
	if errors.Is(err, restorecheck.ErrNoResult) {
		return Warn(fix, "no restore check has run yet: the backups are not known to restore")
	}
	var apiErr apierrors.APIStatus
	if errors.As(err, &apiErr) {
		return apiError("reading the last restore check", err)
	}
	if err != nil {
		return Warn(fix, "the last restore check left an unreadable record: %v", err)
	}
	when := "an unknown time"
	if !r.FinishedAt.IsZero() {
		when = r.FinishedAt.UTC().Format(time.RFC3339)
	}
	if r.Status == restorecheck.Failed {
		return Fail(fix+"; until it passes, treat the backups as unproven", "the restore check of %s failed: %s", when, orText(r.Message, "no reason recorded"))
	}
	if r.FinishedAt.IsZero() {
		return Warn(fix, "the last restore check passed at an unknown time")
	}
	age := e.now().Sub(r.FinishedAt)
	detail := fmt.Sprintf("passed %s ago (backup %s)", ageText(age), orText(r.Backup, "unnamed"))
	if r.RTO > 0 || r.RPO > 0 {
		detail += fmt.Sprintf(": restored in %s (RTO), newest archived WAL %s old (RPO)", r.RTO, r.RPO)
	}
	if age > restoreWarnAge {
		return Warn(fix+"; the daily restore check is not running (its CronJob is restore-check in "+render.DatabaseNamespace+")", "%s", detail)
	}
	if r.RPO > RPOWarn {
		return Warn("WAL archiving is falling behind: check platform-database and the barman-cloud sidecar's log in the postgres pods",
			"%s; the RPO exceeds %s", detail, RPOWarn)
	}
	return Pass("%s", detail)
}

// checkCache: the operator makes a StatefulSet for each Redis; Flux's
// inventory holds only the Redis, whose status says little.
func checkCache(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	refs, err := inventory(ctx, e, nil, "redis.redis.opstreelabs.in/Redis", "redis.redis.opstreelabs.in/RedisReplication")
	if err != nil {
		return apiError("reading the platform's layer", err)
	}
	if len(refs) == 0 {
		return Skip("this appliance has no cache of its own")
	}
	var good, bad []string
	for _, r := range refs {
		sts := cluster.Ref{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: r.Namespace, Name: r.Name}
		st, err := e.Kube.Status(ctx, sts)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
		case st.Status != "Current":
			bad = append(bad, fmt.Sprintf("%s: %s", r.Name, orText(st.Message, string(st.Status))))
		default:
			good = append(good, r.Name)
		}
	}
	if len(bad) > 0 {
		return Fail("the cache's operator makes it: check platform-operators above; the pods' logs are in the support bundle", "%s", strings.Join(bad, "; "))
	}
	sort.Strings(good)
	return Pass("running: %s", strings.Join(good, ", "))
}

func checkIdentity(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	refs, err := inventory(ctx, e, nil, "k8s.keycloak.org/Keycloak", "k8s.keycloak.org/KeycloakRealmImport")
	if err != nil {
		return apiError("reading the platform's layer", err)
	}
	if len(refs) == 0 {
		if e.Config != nil && e.Config.Identity.Mode == "external" {
			return Skip("identity is the operator's own issuer (user-path checks its discovery)")
		}
		return Skip("this appliance's train has no identity server of its own (user-path checks the issuer's discovery)")
	}
	var good, bad []string
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %s: %v", r.Kind, r.Name, err))
			continue
		}
		want := "Ready"
		if r.Kind == "KeycloakRealmImport" {
			want = "Done"
			if s, _, msg, _ := condition(u, "HasErrors"); s == "True" {
				bad = append(bad, fmt.Sprintf("realm import %s: %s", r.Name, msg))
				continue
			}
		}
		if s, _, msg, _ := condition(u, want); s != "True" {
			bad = append(bad, fmt.Sprintf("%s %s: %s", r.Kind, r.Name, orText(msg, "not "+strings.ToLower(want))))
			continue
		}
		good = append(good, r.Kind+" "+r.Name)
	}
	if len(bad) > 0 {
		return Fail("Keycloak's log is in the support bundle (doctor --support-bundle FILE); a database that is down stops it (platform-database)", "%s", strings.Join(bad, "; "))
	}
	return Pass("%s", strings.Join(good, ", "))
}
