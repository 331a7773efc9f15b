package reset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// ErrForeignState is returned when the state folder holds files docs-appliance did not create:
// reset refuses to empty it, and changes nothing.
var ErrForeignState = errors.New("the state folder holds files docs-appliance did not create")

// Keep is an entry of the state folder that a reset keeps unless purged.
type Keep struct {
	Name string // in the state folder
	What string // what it is, for the summary
}

// Kept are the entries of the state folder a reset keeps unless purged: the age key, without
// which the encrypted desired state can never be decrypted again, and the volumes, which hold
// the database and the object store, where the database backups go. StateMarker stays too
// (unlisted), so that a later reset still knows the folder.
var Kept = []Keep{
	{secrets.KeyFileName, "the age key, which decrypts the desired state's secrets"},
	{filepath.Base(k3s.VolumesDir("/")), "the volumes: the database, the object store with the documents' files, and the backups volume"},
}

// stateNames are the entries the appliance writes in its state folder. A folder without
// secrets.StateMarker (made before the marker existed, or first by `airgap import`) is taken as
// the appliance's when it holds nothing else.
var stateNames = []string{
	secrets.StateMarker, secrets.KeyFileName, secrets.StoreFileName, // secrets.OpenStore
	"appliance.yaml",                        // wizard.ConfigFileName: the saved config
	filepath.Base(k3s.StateKubeconfig("/")), // k3s.KeepKubeconfig
	filepath.Base(k3s.VolumesDir("/")),      // k3s's local-path volumes
	"bundles",                               // airgap.Import
	"work", "install.lock",                  // install: the publish clone and its lock
}

// isStateName reports whether name is one the appliance writes, or atomicfile's temporary
// file for one (".age.key.tmp-123", left by a killed write).
func isStateName(name string) bool {
	if slices.Contains(stateNames, name) {
		return true
	}
	base, _, ok := strings.Cut(strings.TrimPrefix(name, "."), ".tmp-")
	return ok && strings.HasPrefix(name, ".") && slices.Contains(stateNames, base)
}

func keptWhat(name string) (string, bool) {
	if IsBackupVolume(name) {
		return backupsWhat, true
	}
	for _, k := range Kept {
		if k.Name == name {
			return k.What, true
		}
	}
	return "", false
}

// planState lists what the reset removes from and keeps in the state folder. A folder that
// neither holds the marker nor only the appliance's files is refused: --state-dir pointed at
// someone else's folder must not empty it. An empty folder is left alone, even when purging.
func planState(r host.Root, o Options, p *Plan) error {
	entries, err := r.ReadDir(o.StateDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing the state folder %s: %w", o.StateDir, err)
	}
	var foreign []string
	marked := false
	for _, e := range entries {
		marked = marked || e.Name() == secrets.StateMarker
		if !isStateName(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if !marked && len(foreign) > 0 {
		if len(foreign) > 5 {
			foreign = append(foreign[:5], fmt.Sprintf("and %d more", len(foreign)-5))
		}
		return fmt.Errorf("reset: %w: %s holds %s; reset empties only the appliance's state folder: give the one install used with --state-dir",
			ErrForeignState, o.StateDir, strings.Join(foreign, ", "))
	}
	if o.Purge {
		return planPurge(r, o, p)
	}
	for _, e := range entries {
		full := path.Join(o.StateDir, e.Name())
		switch _, kept := keptWhat(e.Name()); {
		case e.Name() == secrets.StateMarker:
		case kept:
			p.Kept = append(p.Kept, full)
		default:
			p.State = append(p.State, full)
		}
	}
	return nil
}

// planLegacyVolumes lists the volumes k3s keeps in its data folder (installed before the
// appliance set default-local-storage-path): they are moved to the state folder's volumes
// before k3s's data folder is removed; a purge moves only the backups volume.
func planLegacyVolumes(r host.Root, o Options, p *Plan) error {
	if o.Purge {
		return planLegacyBackupVolumes(r, o, p)
	}
	entries, err := r.ReadDir(k3s.LegacyVolumesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing k3s's volumes in %s: %w", k3s.LegacyVolumesDir, err)
	}
	for _, e := range entries {
		p.MoveVolumes = append(p.MoveVolumes, path.Join(k3s.LegacyVolumesDir, e.Name()))
	}
	p.VolumesTo = k3s.VolumesDir(o.StateDir)
	if len(p.MoveVolumes) > 0 && !slices.Contains(p.Kept, p.VolumesTo) {
		p.Kept = append(p.Kept, p.VolumesTo)
	}
	return nil
}

// keptText says what each kept path is.
func keptText(kept []string) string {
	parts := make([]string, len(kept))
	for i, k := range kept {
		parts[i] = k
		if what, ok := keptWhat(path.Base(k)); ok {
			parts[i] += " (" + what + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// moveVolumes moves the volumes out of k3s's data folder, by rename: nothing is copied, and a
// volume is either in its old place or its new one. An existing volume of that name is never
// overwritten.
func (x *executor) moveVolumes(context.Context) error {
	dest := x.p.VolumesTo
	if err := x.o.Root.MkdirAll(dest, 0o700); err != nil {
		return err
	}
	for _, src := range x.p.MoveVolumes {
		to := path.Join(dest, path.Base(src))
		if x.o.Root.Exists(to) {
			return fmt.Errorf("moving volume %s: %s exists already; move one of them aside and reset again (k3s's files are not removed yet)", src, to)
		}
		if err := os.Rename(x.o.Root.Path(src), x.o.Root.Path(to)); err != nil {
			return fmt.Errorf("moving volume %s to %s: %w; move it there by hand and reset again (k3s's files are not removed yet)", src, dest, err)
		}
	}
	return nil
}

func (x *executor) removeState(context.Context) error {
	for _, f := range x.p.State {
		if err := x.o.Root.RemoveAll(f); err != nil {
			return err
		}
	}
	return nil
}
