package installer

// The hop's backup step: a backup set now and a restore check of it, or (--backup-age) an
// explicit acceptance of recent ones.

import (
	"context"
	"fmt"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// noDatabase is why a hop takes no backup: the appliance runs no database (a train without
// CloudNativePG, as the stand-in trains): its desired state is the repository, which the hop's
// revert restores, and backup now has nothing of its own to take.
func (h *hop) noDatabase() string {
	if _, ok := h.from.Chart("cloudnative-pg"); ok {
		return ""
	}
	return fmt.Sprintf("the appliance runs no database (train %s carries no cloudnative-pg): its desired state is the repository, which the hop's revert restores; nothing for backup now to take", h.from.Name)
}

func (h *hop) backupDone(ctx context.Context) (string, error) {
	if why := h.noDatabase(); why != "" {
		return why, nil
	}
	if h.pending.BackupSet != "" {
		return fmt.Sprintf("backup set %s was taken and restore-checked for this hop (a resumed run)", h.pending.BackupSet), nil
	}
	if h.u.BackupAge <= 0 {
		return "", nil
	}
	set, check, err := h.lastBackup(ctx)
	if err != nil {
		return "", nil // the run says why
	}
	verdict, err := backupAgeVerdict(time.Now(), h.u.BackupAge, set, check)
	if err != nil {
		return "", nil
	}
	h.pending.BackupSet = set.ID
	if err := h.save(); err != nil {
		return "", err
	}
	return verdict, nil
}

func (h *hop) backup(ctx context.Context, st *status.Status) error {
	u := h.u
	if u.BackupAge > 0 {
		set, check, err := h.lastBackup(ctx)
		if err != nil {
			return &NotStartedError{Gate: GateBackup, Message: err.Error(), Fix: "run upgrade where the cluster and the backup target answer"}
		}
		if _, err := backupAgeVerdict(time.Now(), u.BackupAge, set, check); err != nil {
			return err
		}
		return nil
	}
	b := NewBackupNow(u.StateDir, "", u.Kubeconfig, u.root())
	b.Trains = u.trains
	if err := b.Run(ctx, st); err != nil {
		return &NotStartedError{Gate: GateBackup, Message: "backup now: " + err.Error(), Fix: "fix what backup now says and run upgrade again (or accept a recent set with --backup-age)"}
	}
	rc := &RestoreCheck{StateDir: u.StateDir, Kubeconfig: u.Kubeconfig, Root: u.root()}
	if err := rc.Run(ctx, st); err != nil {
		return &NotStartedError{Gate: GateBackup, Message: "restore-check now: " + err.Error(), Fix: "read the restore check's message and fix the backups first"}
	}
	h.pending.BackupSet = b.Result.ID
	st.Info("backup set %s taken and restore-checked: it is the way back if the hop cannot be undone", b.Result.ID)
	return h.save()
}

// lastBackup reads the newest consistent set and the last restore check.
func (h *hop) lastBackup(ctx context.Context) (*backup.SetInfo, *restorecheck.Result, error) {
	l := NewBackupList(h.u.StateDir, "", h.u.Kubeconfig, h.u.root())
	l.Trains = h.u.trains
	if err := l.Run(ctx, quiet()); err != nil {
		return nil, nil, fmt.Errorf("listing the backup sets: %w", err)
	}
	var set *backup.SetInfo
	for i := range l.Listing.Sets {
		if l.Listing.Sets[i].ID == l.Listing.NewestConsistent {
			set = &l.Listing.Sets[i]
		}
	}
	c, err := h.r.client()
	if err != nil {
		return nil, nil, err
	}
	last := readRestoreCheck(ctx, c.Kube)
	if last.err != nil {
		return nil, nil, last.err
	}
	return set, last.r, nil
}

// backupAgeVerdict accepts (--backup-age) a newest consistent set and a last passing restore
// check both younger than age, saying so; otherwise it refuses, naming what is too old.
func backupAgeVerdict(now time.Time, age time.Duration, set *backup.SetInfo, check *restorecheck.Result) (string, error) {
	refuse := func(msg string) error {
		return &NotStartedError{Gate: GateBackup, Message: fmt.Sprintf("--backup-age %s: %s", age, msg),
			Fix: "drop --backup-age: upgrade then takes a backup now and restore-checks it"}
	}
	switch {
	case set == nil:
		return "", refuse("no consistent backup set in the target")
	case set.CreatedAt.IsZero() || now.Sub(set.CreatedAt) > age:
		return "", refuse(fmt.Sprintf("the newest consistent set %s was taken %s ago", set.ID, now.Sub(set.CreatedAt).Round(time.Minute)))
	case check == nil:
		return "", refuse("no restore check has recorded a result")
	case check.Status != restorecheck.Passed:
		return "", refuse(fmt.Sprintf("the last restore check %s: %s", check.Status, check.Message))
	case check.FinishedAt.IsZero() || now.Sub(check.FinishedAt) > age:
		return "", refuse(fmt.Sprintf("the last passing restore check finished %s ago", now.Sub(check.FinishedAt).Round(time.Minute)))
	}
	return fmt.Sprintf("accepted with --backup-age %s: set %s taken %s ago, restore check passed %s ago", age, set.ID,
		now.Sub(set.CreatedAt).Round(time.Minute), now.Sub(check.FinishedAt).Round(time.Minute)), nil
}
