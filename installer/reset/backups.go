package reset

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// BackupVolumeSuffix ends the folder name k3s's local-path provisioner gives the embedded
// object store's backups volume: pvc-<uid>_<namespace>_<claim>, the claim being
// render.BackupVolumeClaim in render.ObjectStoreNamespace.
const BackupVolumeSuffix = "_object-store_backups-objectstore-0"

// legacyBackupsSuffix ends the object store's data volume, which held the backups bucket
// (buckets/appliance-backups) before backups had a volume of their own.
const legacyBackupsSuffix = "_object-store_data-objectstore-0"

// legacyBackupsBucket is that bucket's folder inside the data volume.
const legacyBackupsBucket = "buckets/appliance-backups"

// ErrBackupsInDataVolume is returned when a purge would delete backups kept in the object
// store's data volume (an appliance older than the backups volume) without --delete-backups.
var ErrBackupsInDataVolume = errors.New("the object store's volume holds backups")

const backupsWhat = "the embedded object store's backups volume: the database archive and media copies"

// IsBackupVolume reports whether a volume folder's name is the embedded backups volume's.
func IsBackupVolume(name string) bool {
	return strings.HasPrefix(name, "pvc-") && strings.HasSuffix(name, BackupVolumeSuffix)
}

// planPurge lists what a purge removes from the state folder: all of it, but for the backups
// volumes unless DeleteBackups (the marker stays with them, so a later reset knows the folder).
// A data volume that still holds backups stops the purge unless DeleteBackups.
func planPurge(r host.Root, o Options, p *Plan) error {
	volumes := k3s.VolumesDir(o.StateDir)
	entries, err := r.ReadDir(volumes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("listing the volumes in %s: %w", volumes, err)
	}
	var keep, drop []string
	for _, e := range entries {
		full := path.Join(volumes, e.Name())
		switch {
		case IsBackupVolume(e.Name()):
			keep = append(keep, full)
		case strings.HasSuffix(e.Name(), legacyBackupsSuffix):
			if !o.DeleteBackups && nonEmptyDir(r, path.Join(full, legacyBackupsBucket)) {
				return fmt.Errorf("reset --purge: %w: %s holds the database backups (%s) of an appliance from before backups had a volume of their own; copy them off this server, then add --delete-backups to delete them too",
					ErrBackupsInDataVolume, full, legacyBackupsBucket)
			}
			drop = append(drop, full)
		default:
			drop = append(drop, full)
		}
	}
	if o.DeleteBackups || len(keep) == 0 {
		p.State = append(p.State, o.StateDir)
		return nil
	}
	top, err := r.ReadDir(o.StateDir)
	if err != nil {
		return fmt.Errorf("listing the state folder %s: %w", o.StateDir, err)
	}
	for _, e := range top {
		switch e.Name() {
		case secrets.StateMarker, path.Base(volumes):
		default:
			p.State = append(p.State, path.Join(o.StateDir, e.Name()))
		}
	}
	p.State = append(p.State, drop...)
	p.Kept = append(p.Kept, keep...)
	p.KeptBackups = true
	return nil
}

func nonEmptyDir(r host.Root, dir string) bool {
	entries, err := r.ReadDir(dir)
	return err == nil && len(entries) > 0
}

// legacyBackupVolumes are the backups volumes in k3s's data folder: a purge moves them to the
// state folder's volumes (unless DeleteBackups) before that folder is removed.
func planLegacyBackupVolumes(r host.Root, o Options, p *Plan) error {
	if o.DeleteBackups {
		return nil
	}
	entries, err := r.ReadDir(k3s.LegacyVolumesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing k3s's volumes in %s: %w", k3s.LegacyVolumesDir, err)
	}
	for _, e := range entries {
		if IsBackupVolume(e.Name()) {
			p.MoveVolumes = append(p.MoveVolumes, path.Join(k3s.LegacyVolumesDir, e.Name()))
		}
	}
	if len(p.MoveVolumes) > 0 {
		p.VolumesTo = k3s.VolumesDir(o.StateDir)
		for _, v := range p.MoveVolumes {
			p.Kept = append(p.Kept, path.Join(p.VolumesTo, path.Base(v)))
		}
		p.KeptBackups = true
	}
	return nil
}
