package backup

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	apiv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Listing is what `backup list` reports.
type Listing struct {
	Sets []SetInfo `json:"sets"`
	// NewestConsistent is the newest set whose every part is present and verified; "" when none.
	NewestConsistent string `json:"newestConsistent"`
	// Backups are the cluster's Backup objects; Archive the base backups in the target.
	Backups []ClusterBackup  `json:"backups"`
	Archive []ArchivedBackup `json:"archive"`
	// RecoveryWindow is the ObjectStore's view of what can be recovered (nil when unknown).
	RecoveryWindow *RecoveryWindow `json:"recoveryWindow,omitempty"`
	// Warnings are facts that could not be read (the cluster down: the target is still listed).
	Warnings []string `json:"warnings,omitempty"`
}

// SetInfo is one set in the target.
type SetInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Complete: its manifest is written. Consistent: complete, and every part it lists is still
	// there with the recorded sizes.
	Complete   bool             `json:"complete"`
	Consistent bool             `json:"consistent"`
	Problem    string           `json:"problem,omitempty"`
	Bytes      map[string]int64 `json:"bytes"`
	Database   *DatabaseBackup  `json:"database,omitempty"`
}

// ClusterBackup is a CloudNativePG Backup object.
type ClusterBackup struct {
	Name string `json:"name"`
	// Set is the backup set whose database part it is (backup now's), "" for the schedule's.
	Set       string     `json:"set,omitempty"`
	Phase     string     `json:"phase"`
	BackupID  string     `json:"backupID,omitempty"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	StoppedAt *time.Time `json:"stoppedAt,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// ArchivedBackup is a base backup in the target's database/<serverName>/base/.
type ArchivedBackup struct {
	ServerName string `json:"serverName"`
	BackupID   string `json:"backupID"`
	Objects    int    `json:"objects"`
	Bytes      int64  `json:"bytes"`
}

// RecoveryWindow is the barman-cloud ObjectStore's status for one server name.
type RecoveryWindow struct {
	ServerName               string     `json:"serverName"`
	FirstRecoverabilityPoint *time.Time `json:"firstRecoverabilityPoint,omitempty"`
	LastSuccessfulBackupTime *time.Time `json:"lastSuccessfulBackupTime,omitempty"`
	LastFailedBackupTime     *time.Time `json:"lastFailedBackupTime,omitempty"`
}

// List reads the target's sets and base backups, and, with db.Client set, the cluster's Backup
// objects and the recovery window of the ObjectStore objectStore.
func List(ctx context.Context, t Target, db Database, objectStore string) (*Listing, error) {
	s, err := t.open()
	if err != nil {
		return nil, err
	}
	out := &Listing{Sets: []SetInfo{}, Backups: []ClusterBackup{}, Archive: []ArchivedBackup{}}
	if err := s.listSets(ctx, out); err != nil {
		return nil, err
	}
	servers, err := s.folders(ctx, t.Key("database/"))
	if err != nil {
		return nil, err
	}
	for _, server := range servers {
		ids, err := s.folders(ctx, t.Key(path.Join("database", server, "base")+"/"))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			objs, err := s.list(ctx, t.Key(path.Join("database", server, "base", id)+"/"))
			if err != nil {
				return nil, err
			}
			a := ArchivedBackup{ServerName: server, BackupID: id, Objects: len(objs)}
			for _, o := range objs {
				a.Bytes += o.Size
			}
			out.Archive = append(out.Archive, a)
		}
	}
	if db.Client == nil {
		return out, nil
	}
	if err := db.listBackups(ctx, out); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	out.addStartedSets()
	if err := db.recoveryWindow(ctx, objectStore, out); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	return out, nil
}

// listSets finds every set: those with a manifest, and those a run left without one.
func (s *store) listSets(ctx context.Context, out *Listing) error {
	ids := map[string]bool{}
	manifests, err := s.list(ctx, s.t.Key("sets/"))
	if err != nil {
		return err
	}
	for _, o := range manifests {
		if id, ok := strings.CutSuffix(path.Base(o.Key), ".json"); ok {
			ids[id] = true
		}
	}
	partial := map[string]bool{}
	states, err := s.folders(ctx, s.t.Key("state/"))
	if err != nil {
		return err
	}
	bundles, err := s.list(ctx, s.t.Key("git/"))
	if err != nil {
		return err
	}
	for _, o := range bundles {
		if id, ok := strings.CutSuffix(path.Base(o.Key), ".bundle"); ok {
			states = append(states, id)
		}
	}
	for _, id := range states {
		if !ids[id] {
			partial[id] = true
		}
	}
	for id := range ids {
		out.Sets = append(out.Sets, s.setInfo(ctx, id))
	}
	for id := range partial {
		info := SetInfo{ID: id, Bytes: map[string]int64{}, Problem: "incomplete: it has no manifest (its run did not finish; run backup now again to finish it)"}
		if t, err := time.Parse(IDFormat, id); err == nil {
			info.CreatedAt = t
		}
		out.Sets = append(out.Sets, info)
	}
	sort.Slice(out.Sets, func(i, j int) bool { return out.Sets[i].ID > out.Sets[j].ID })
	for _, set := range out.Sets {
		if set.Consistent {
			out.NewestConsistent = set.ID
			break
		}
	}
	return nil
}

// setInfo reads a manifest and checks that what it lists is still there.
func (s *store) setInfo(ctx context.Context, id string) SetInfo {
	info := SetInfo{ID: id, Complete: true, Bytes: map[string]int64{}}
	m, err := s.readManifest(ctx, id)
	if err != nil {
		info.Problem = err.Error()
		return info
	}
	info.CreatedAt = m.CreatedAt
	for _, p := range m.Parts {
		info.Bytes[p.Name] = p.Bytes
	}
	info.Database = nil
	if p := m.Part(PartDatabase); p != nil {
		info.Database = p.Database
	}
	info.Problem = s.consistent(ctx, m)
	info.Consistent = info.Problem == ""
	return info
}

// consistent says what keeps the set from being restored, "" when nothing does.
func (s *store) consistent(ctx context.Context, m *Manifest) string {
	for _, name := range Parts {
		p := m.Part(name)
		switch {
		case p == nil:
			return "the manifest has no " + name + " part"
		case !p.Verified:
			return "the " + name + " part was not verified"
		}
	}
	if db := m.Part(PartDatabase).Database; db == nil {
		return "the database part names no base backup"
	} else if _, _, err := verifyBase(ctx, s, db.ServerName, db.BackupID); err != nil {
		return "database: " + err.Error()
	}
	check := []File{}
	if g := m.Part(PartGit); len(g.Locations) == 1 {
		check = append(check, File{Name: "git bundle", Location: g.Locations[0], Bytes: g.Bytes, SHA256: g.SHA256})
	}
	check = append(check, m.Part(PartState).Files...)
	for _, f := range check {
		key := strings.TrimPrefix(f.Location, "s3://"+s.bucket+"/")
		cur, err := s.head(ctx, key)
		switch {
		case err != nil:
			return err.Error()
		case cur == nil:
			return f.Location + " is gone"
		case cur.Size != f.Bytes || cur.SHA256 != f.SHA256:
			return fmt.Sprintf("%s changed since the set was taken (%d bytes, was %d)", f.Location, cur.Size, f.Bytes)
		}
	}
	return ""
}

// addStartedSets lists as incomplete the sets whose run stopped before it wrote anything to the
// target: their Backup object is all there is of them.
func (l *Listing) addStartedSets() {
	have := map[string]bool{}
	for _, s := range l.Sets {
		have[s.ID] = true
	}
	for _, b := range l.Backups {
		if b.Set == "" || have[b.Set] {
			continue
		}
		have[b.Set] = true
		info := SetInfo{ID: b.Set, Bytes: map[string]int64{}, Problem: "incomplete: only its database backup " + b.Name + " was started (run backup now again to finish it)"}
		if t, err := time.Parse(IDFormat, b.Set); err == nil {
			info.CreatedAt = t
		}
		l.Sets = append(l.Sets, info)
	}
	sort.Slice(l.Sets, func(i, j int) bool { return l.Sets[i].ID > l.Sets[j].ID })
}

func (d Database) listBackups(ctx context.Context, out *Listing) error {
	l, err := d.Client.Resource(backupGVR).Namespace(d.ns()).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing the cluster's Backup objects: %w", err)
	}
	for _, u := range l.Items {
		var b apiv1.Backup
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
			return fmt.Errorf("reading Backup %s: %w", u.GetName(), err)
		}
		if b.Spec.Cluster.Name != d.cluster() {
			continue
		}
		cb := ClusterBackup{Name: b.Name, Set: b.Labels[SetLabel], Phase: string(b.Status.Phase), BackupID: b.Status.BackupID, Error: b.Status.Error,
			StartedAt: timeOf(b.Status.StartedAt), StoppedAt: timeOf(b.Status.StoppedAt)}
		out.Backups = append(out.Backups, cb)
	}
	sort.Slice(out.Backups, func(i, j int) bool { return out.Backups[i].Name < out.Backups[j].Name })
	return nil
}

var objectStoreGVR = schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}

// recoveryWindow reads status.serverRecoveryWindow.<serverName> of the ObjectStore (the plugin's
// type is in a module this one does not import: unstructured, three timestamps).
func (d Database) recoveryWindow(ctx context.Context, name string, out *Listing) error {
	u, err := d.Client.Resource(objectStoreGVR).Namespace(d.ns()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the ObjectStore %s/%s: %w", d.ns(), name, err)
	}
	w, found, _ := unstructured.NestedMap(u.Object, "status", "serverRecoveryWindow", d.serverName())
	if !found {
		return nil
	}
	rw := &RecoveryWindow{ServerName: d.serverName()}
	at := func(k string) *time.Time {
		s, _ := w[k].(string)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil
		}
		return &t
	}
	rw.FirstRecoverabilityPoint, rw.LastSuccessfulBackupTime, rw.LastFailedBackupTime = at("firstRecoverabilityPoint"), at("lastSuccessfulBackupTime"), at("lastFailedBackupTime")
	out.RecoveryWindow = rw
	return nil
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
