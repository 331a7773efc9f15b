package reset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

const backupFile = stateDir + "/volumes/pvc-3_object-store_backups-objectstore-0/database/postgres/base/20261201T020000/data.tar"

// TestPurgeKeepsTheBackupsVolume: a purge removes the key, the media and database volumes
// and the rest of the state, but never the backups volume without --delete-backups; it says
// so before and after, and a second purge has nothing left to do.
func TestPurgeKeepsTheBackupsVolume(t *testing.T) {
	h := newFakeHost(t, true)
	h.tr.Write(stateDir+"/"+secrets.StateMarker, "")
	r := h.tr.Root
	o := h.options()
	o.Purge = true
	p, err := MakePlan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text(), "keep "+stateDir+"/volumes/pvc-3_object-store_backups-objectstore-0 (the embedded object store's backups volume") ||
		!strings.Contains(p.Text(), "--purge --delete-backups deletes them too") {
		t.Errorf("the plan does not say the backups stay:\n%s", p.Text())
	}
	out := reset(t, o)
	if h.tr.Read(backupFile) != "backup" {
		t.Fatal("a purge without --delete-backups deleted the backups")
	}
	for _, gone := range []string{stateDir + "/age.key", stateDir + "/appliance.yaml", stateDir + "/kubeconfig", stateDir + "/bundles",
		stateDir + "/volumes/pvc-1_object-store_data-objectstore-0", stateDir + "/volumes/pvc-2_database_pg-1", k3s.DataDir} {
		if r.Exists(gone) {
			t.Errorf("%s survived the purge", gone)
		}
	}
	if !strings.Contains(out, "kept "+stateDir+"/volumes/pvc-3_object-store_backups-objectstore-0") {
		t.Errorf("the summary does not name the kept backups:\n%s", out)
	}

	// The folder is still the appliance's (a later reset recognises it) and has nothing left.
	h.rec.Reset()
	out = reset(t, o)
	if !strings.Contains(out, "nothing to reset") || h.tr.Read(backupFile) != "backup" {
		t.Errorf("a second purge:\n%s", out)
	}
	if !r.Exists(stateDir + "/" + secrets.StateMarker) {
		t.Error("the marker went: the kept backups' folder is no longer known as the appliance's")
	}

	// Asked for explicitly, they go.
	o.DeleteBackups = true
	reset(t, o)
	if r.Exists(stateDir) {
		t.Error("--purge --delete-backups left the state folder")
	}
}

// TestPurgeMovesABackupsVolumeOutOfK3sDataFolder: a backups volume an older install left in
// k3s's data folder is moved to the state folder, not deleted with k3s's files.
func TestPurgeMovesABackupsVolumeOutOfK3sDataFolder(t *testing.T) {
	h := newFakeHost(t, true)
	const legacy = k3s.LegacyVolumesDir + "/pvc-4_object-store_backups-objectstore-0/database/postgres/wals/0000/x.gz"
	h.tr.Write(legacy, "wal")
	o := h.options()
	o.Purge = true
	reset(t, o)
	r := h.tr.Root
	if h.tr.Read(stateDir+"/volumes/pvc-4_object-store_backups-objectstore-0/database/postgres/wals/0000/x.gz") != "wal" {
		t.Fatal("the backups volume in k3s's data folder was not kept")
	}
	if r.Exists(k3s.LegacyVolumesDir) || r.Exists(stateDir+"/volumes/pvc-2_database_pg-1") {
		t.Error("a purge kept more than the backups")
	}
}

// TestPurgeRefusesToDeleteBackupsInTheDataVolume: backups an older appliance kept inside the
// object store's data volume stop a purge, before anything changes, naming the folder and the
// flag; --delete-backups lets it go on.
func TestPurgeRefusesToDeleteBackupsInTheDataVolume(t *testing.T) {
	h := newFakeHost(t, true)
	const old = stateDir + "/volumes/pvc-1_object-store_data-objectstore-0/buckets/appliance-backups/postgres/base/x/data.tar"
	h.tr.Write(old, "old backup")
	o := h.options()
	o.Purge = true
	_, err := Run(context.Background(), o, status.Discard())
	if !errors.Is(err, ErrBackupsInDataVolume) || !strings.Contains(err.Error(), "buckets/appliance-backups") || !strings.Contains(err.Error(), "--delete-backups") {
		t.Fatalf("got %v", err)
	}
	// The plan's reads (iptables-save) only.
	for _, c := range h.rec.Commands() {
		if !strings.HasSuffix(c.Argv[0], "-save") {
			t.Errorf("the refused purge ran %q", c.Argv)
		}
	}
	if h.tr.Read(old) != "old backup" || !h.tr.Root.Exists(k3s.UnitPath) || !h.tr.Root.Exists(stateDir+"/age.key") {
		t.Fatal("the refused purge changed something")
	}
	o.DeleteBackups = true
	reset(t, o)
	if h.tr.Root.Exists(stateDir) {
		t.Error("--delete-backups did not delete them")
	}
}

func TestDeleteBackupsNeedsPurge(t *testing.T) {
	h := newFakeHost(t, true)
	o := h.options()
	o.DeleteBackups = true
	if _, err := Run(context.Background(), o, status.Discard()); err == nil || !strings.Contains(err.Error(), "give it with --purge") {
		t.Fatalf("got %v", err)
	}
	if len(h.rec.Commands()) != 0 || h.tr.Read(backupFile) != "backup" {
		t.Fatal("something changed")
	}
}
