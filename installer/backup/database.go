package backup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	apiv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// Database is the CloudNativePG cluster whose base backup a set takes, through the barman-cloud
// plugin into the target's database/ (the ObjectStore's destinationPath).
type Database struct {
	Client dynamic.Interface
	// Namespace and Cluster: render.DatabaseNamespace and "postgres" by default.
	Namespace, Cluster string
	// ServerName is the folder the cluster archives under (backup.serverName); default Cluster.
	ServerName string
	// Poll is how often the Backup's status is read; 0 is 2s.
	Poll time.Duration
}

// Plugin is the CNPG-I name of plugin-barman-cloud.
const Plugin = "barman-cloud.cloudnative-pg.io"

// SetLabel marks the Backup objects backup now made with their set's ID.
const SetLabel = "docs-appliance.suitenumerique.org/backup-set"

var backupGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}

func (d Database) ns() string {
	if d.Namespace == "" {
		return "database"
	}
	return d.Namespace
}

func (d Database) cluster() string {
	if d.Cluster == "" {
		return "postgres"
	}
	return d.Cluster
}

func (d Database) serverName() string {
	if d.ServerName == "" {
		return d.cluster()
	}
	return d.ServerName
}

// BackupName is the Backup object of set id (object names are lower case).
func BackupName(id string) string { return "set-" + strings.ToLower(id) }

// get reads a Backup, nil when there is none.
func (d Database) get(ctx context.Context, name string) (*apiv1.Backup, error) {
	u, err := d.Client.Resource(backupGVR).Namespace(d.ns()).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Backup %s/%s: %w", d.ns(), name, err)
	}
	var b apiv1.Backup
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
		return nil, fmt.Errorf("reading Backup %s/%s: %w", d.ns(), name, err)
	}
	return &b, nil
}

// start creates set id's Backup, unless it exists and has not failed: a resumed run waits for
// the one it started. A failed one (ours, by its label) is replaced.
func (d Database) start(ctx context.Context, id string) (string, error) {
	name := BackupName(id)
	cur, err := d.get(ctx, name)
	if err != nil {
		return "", err
	}
	if cur != nil && cur.Status.Phase != apiv1.BackupPhaseFailed {
		return name, nil
	}
	if cur != nil {
		if cur.Labels[SetLabel] != id {
			return "", fmt.Errorf("Backup %s/%s exists and was not made by backup now: delete it or let it be, then run again", d.ns(), name)
		}
		if err := d.Client.Resource(backupGVR).Namespace(d.ns()).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("removing the failed Backup %s/%s before trying again: %w", d.ns(), name, err)
		}
	}
	b := &apiv1.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: "postgresql.cnpg.io/v1", Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.ns(), Labels: map[string]string{SetLabel: id}},
		Spec: apiv1.BackupSpec{
			Cluster:             apiv1.LocalObjectReference{Name: d.cluster()},
			Method:              apiv1.BackupMethodPlugin,
			PluginConfiguration: &apiv1.BackupPluginConfiguration{Name: Plugin},
		},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		return "", fmt.Errorf("encoding Backup %s: %w", name, err)
	}
	if _, err := d.Client.Resource(backupGVR).Namespace(d.ns()).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("creating Backup %s/%s: %w", d.ns(), name, err)
	}
	return name, nil
}

// FailedError is a base backup the operator reports failed, with its reason.
type FailedError struct {
	Namespace, Name, Reason string
	// Pod is the instance that ran it: through the plugin the reason is often only an exit
	// status, and barman-cloud's own message is in that pod's plugin container log.
	Pod string
}

func (e *FailedError) Error() string {
	where := fmt.Sprintf("`kubectl -n %s describe backup %s`", e.Namespace, e.Name)
	if e.Pod != "" {
		where += fmt.Sprintf(" and `kubectl -n %s logs %s -c plugin-barman-cloud`", e.Namespace, e.Pod)
	}
	return fmt.Sprintf("the database backup %s/%s failed: %s (see %s; fix it, then run backup now again)", e.Namespace, e.Name, e.Reason, where)
}

// wait polls the Backup until it completed or failed, within ctx's deadline.
func (d Database) wait(ctx context.Context, name string) (*apiv1.Backup, error) {
	poll := d.Poll
	if poll == 0 {
		poll = 2 * time.Second
	}
	var last *apiv1.Backup
	err := wait.PollUntilContextCancel(ctx, poll, true, func(ctx context.Context) (bool, error) {
		b, err := d.get(ctx, name)
		if err != nil || b == nil {
			return false, err
		}
		last = b
		switch b.Status.Phase {
		case apiv1.BackupPhaseCompleted:
			return true, nil
		case apiv1.BackupPhaseFailed:
			fe := &FailedError{Namespace: d.ns(), Name: name, Reason: b.Status.Error}
			if b.Status.InstanceID != nil {
				fe.Pod = b.Status.InstanceID.PodName
			}
			return false, fe
		}
		return false, nil
	})
	var fe *FailedError
	if errors.As(err, &fe) {
		return nil, err
	}
	if err != nil {
		phase := "no status yet"
		if last != nil && last.Status.Phase != "" {
			phase = "phase " + string(last.Status.Phase)
		}
		return nil, fmt.Errorf("waiting for the database backup %s/%s (%s): %w", d.ns(), name, phase, err)
	}
	return last, nil
}

// NotLandedError: the operator says the backup completed, but the target lacks its files.
type NotLandedError struct {
	Prefix string
	Why    string
}

func (e *NotLandedError) Error() string {
	return fmt.Sprintf("the database backup completed, but %s %s: the cluster archives somewhere else than the backup target (check the ObjectStore's destinationPath)", e.Prefix, e.Why)
}

// verifyBase checks the base backup landed: backup.info and the data archive under
// database/<serverName>/base/<backupID>/, each non-empty.
func verifyBase(ctx context.Context, s *store, serverName, backupID string) (int, int64, error) {
	rel := path.Join("database", serverName, "base", backupID) + "/"
	objs, err := s.list(ctx, s.t.Key(rel))
	if err != nil {
		return 0, 0, err
	}
	var info, data bool
	var total int64
	for _, o := range objs {
		base := path.Base(o.Key)
		info = info || (base == "backup.info" && o.Size > 0)
		data = data || (strings.HasPrefix(base, "data.tar") && o.Size > 0)
		total += o.Size
	}
	switch {
	case len(objs) == 0:
		return 0, 0, &NotLandedError{Prefix: s.t.URL(rel), Why: "is empty"}
	case !info:
		return 0, 0, &NotLandedError{Prefix: s.t.URL(rel), Why: "has no non-empty backup.info"}
	case !data:
		return 0, 0, &NotLandedError{Prefix: s.t.URL(rel), Why: "has no non-empty data archive (data.tar*)"}
	}
	return len(objs), total, nil
}

// part records a completed, verified base backup.
func (d Database) part(ctx context.Context, s *store, b *apiv1.Backup) (*Part, error) {
	server := d.serverName()
	if b.Status.ServerName != "" {
		server = b.Status.ServerName
	}
	if b.Status.BackupID == "" {
		return nil, fmt.Errorf("the database backup %s/%s completed without a backup ID in its status", d.ns(), b.Name)
	}
	n, size, err := verifyBase(ctx, s, server, b.Status.BackupID)
	if err != nil {
		return nil, err
	}
	rec := &DatabaseBackup{Name: b.Name, BackupID: b.Status.BackupID, ServerName: server,
		BeginWal: b.Status.BeginWal, EndWal: b.Status.EndWal}
	if t := b.Status.StartedAt; t != nil {
		rec.StartedAt = t.UTC()
	}
	if t := b.Status.StoppedAt; t != nil {
		rec.StoppedAt = t.UTC()
	}
	return &Part{Name: PartDatabase, Objects: n, Bytes: size, Verified: true, Database: rec,
		Locations: []string{s.t.URL(path.Join("database", server, "base", b.Status.BackupID) + "/"), s.t.URL(path.Join("database", server, "wals") + "/")}}, nil
}
