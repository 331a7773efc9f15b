package restorecheck

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/installer/render"
)

// Statuses a check records.
const (
	Passed = "passed"
	Failed = "failed"
)

// Result is what one restore check recorded (the keys of the ConfigMap
// are in parentheses).
type Result struct {
	Status  string `json:"status"`  // passed | failed (status)
	Message string `json:"message"` // what passed, or why it failed (message)
	// Job is the Job that ran the check (job).
	Job string `json:"job,omitempty"`
	// Backup is the CloudNativePG Backup recovered (backup), BackupID its
	// barman ID the recovery was pinned to (backupID), BackupStoppedAt
	// when it ended (backupStoppedAt).
	Backup          string    `json:"backup,omitempty"`
	BackupID        string    `json:"backupID,omitempty"`
	BackupStoppedAt time.Time `json:"backupStoppedAt,omitzero"`
	// StartedAt and FinishedAt bound the whole run (startedAt, finishedAt).
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// RTO is the time to restore: from creating the throwaway cluster to
	// the checks on its data done (rtoSeconds).
	RTO time.Duration `json:"rto,omitempty"`
	// RPO is the data a disaster at the start of the check would have
	// lost: the age of the live cluster's newest archived WAL segment then,
	// now() - pg_stat_archiver.last_archived_time (rpoSeconds). With
	// archive_timeout 5min it stays under about five minutes plus the
	// archiver's delay on a healthy appliance.
	RPO time.Duration `json:"rpo,omitempty"`
	// LastArchivedAt is that segment's archive time (lastArchivedAt).
	LastArchivedAt time.Time `json:"lastArchivedAt,omitzero"`
	// HeartbeatAt is when the check wrote its heartbeat row into the live
	// cluster (heartbeatAt), just before forcing its WAL segment into the
	// archive; RecoveredTo is the newest heartbeat the restored cluster
	// holds (recoveredTo): the recovered-to point, proven to reach at least
	// HeartbeatAt when the check passed.
	HeartbeatAt time.Time `json:"heartbeatAt,omitzero"`
	RecoveredTo time.Time `json:"recoveredTo,omitzero"`
	// Counts are the restored and live numbers: tables, migrations,
	// liveMigrations, migrationsAfterRecoveredPoint, users, liveUsers,
	// documents, liveDocuments, accesses, liveAccesses.
	Counts map[string]int64 `json:"counts,omitempty"`
}

// countKeys are the ConfigMap's numeric keys held in Counts.
var countKeys = []string{"tables", "migrations", "liveMigrations", "migrationsAfterRecoveredPoint",
	"users", "liveUsers", "documents", "liveDocuments", "accesses", "liveAccesses"}

// ErrNoResult: no restore check has recorded anything yet.
var ErrNoResult = errors.New("no restore check has run yet")

// FailedError is a restore check that ran and failed; Result says why.
type FailedError struct{ Result *Result }

func (e *FailedError) Error() string {
	return fmt.Sprintf("the restore check failed: %s", e.Result.Message)
}

// ExitCode is the command's exit code for a check that ran and failed: 3,
// as doctor's and preflight's failures.
func (e *FailedError) ExitCode() int { return 3 }

// Parse reads a result ConfigMap's data. A malformed timestamp or number
// is an error naming its key (the record is the script's, not a user's).
func Parse(data map[string]string) (*Result, error) {
	r := &Result{Status: data["status"], Message: data["message"], Job: data["job"],
		Backup: data["backup"], BackupID: data["backupID"], Counts: map[string]int64{}}
	for key, dst := range map[string]*time.Time{
		"backupStoppedAt": &r.BackupStoppedAt, "startedAt": &r.StartedAt, "finishedAt": &r.FinishedAt,
		"lastArchivedAt": &r.LastArchivedAt, "heartbeatAt": &r.HeartbeatAt, "recoveredTo": &r.RecoveredTo,
	} {
		if v := data[key]; v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, fmt.Errorf("reading the restore check's %s %q: %w", key, v, err)
			}
			*dst = t
		}
	}
	for key, dst := range map[string]*time.Duration{"rtoSeconds": &r.RTO, "rpoSeconds": &r.RPO} {
		if v := data[key]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reading the restore check's %s %q: %w", key, v, err)
			}
			*dst = time.Duration(n) * time.Second
		}
	}
	for _, key := range countKeys {
		if v := data[key]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reading the restore check's %s %q: %w", key, v, err)
			}
			r.Counts[key] = n
		}
	}
	switch r.Status {
	case Passed, Failed:
	default:
		return nil, fmt.Errorf("the restore check recorded status %q (want %s or %s)", r.Status, Passed, Failed)
	}
	return r, nil
}

// Read returns the last recorded result; ErrNoResult when there is none.
func Read(ctx context.Context, kube kubernetes.Interface) (*Result, error) {
	cm, err := kube.CoreV1().ConfigMaps(render.DatabaseNamespace).Get(ctx, render.RestoreCheckResult, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, ErrNoResult
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", render.DatabaseNamespace, render.RestoreCheckResult, err)
	}
	return fromConfigMap(cm)
}

func fromConfigMap(cm *corev1.ConfigMap) (*Result, error) {
	r, err := Parse(cm.Data)
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return r, nil
}
