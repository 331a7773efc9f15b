package backup

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// KeyReminder says what restoring a set needs beside the set: the age key, and whether its
// offline copy was confirmed (`key confirm-backup`) for the key in use.
type KeyReminder struct {
	Recipient string `json:"recipient,omitempty"`
	// OfflineCopyConfirmed: the confirmation record names the key in use.
	OfflineCopyConfirmed bool       `json:"offlineCopyConfirmed"`
	ConfirmedAt          *time.Time `json:"confirmedAt,omitempty"`
	Message              string     `json:"message"`
}

// AgeKeyReminder reads the key and its confirmation record in the state folder.
func AgeKeyReminder(stateDir string) KeyReminder {
	r := KeyReminder{}
	id, err := secrets.LoadKey(filepath.Join(stateDir, secrets.KeyFileName))
	if err == nil {
		r.Recipient = id.Recipient().String()
	}
	kb, _ := secrets.ReadKeyBackup(stateDir)
	if kb != nil && kb.Recipient == r.Recipient && r.Recipient != "" {
		r.OfflineCopyConfirmed, r.ConfirmedAt = true, &kb.ConfirmedAt
	}
	switch {
	case r.OfflineCopyConfirmed:
		r.Message = fmt.Sprintf("restoring needs the age key %s, which no backup holds: its offline copy was confirmed on %s", r.Recipient, kb.ConfirmedAt.Format("2006-01-02"))
	default:
		r.Message = "restoring needs the age key " + filepath.Join(stateDir, secrets.KeyFileName) + ", which no backup holds, and no offline copy of it is confirmed: copy it off this server, then run `docs-appliance key confirm-backup`"
	}
	return r
}

// Text is the set as `backup now` prints it.
func (m *Manifest) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Backup set %s complete (%s):\n", m.ID, status.HumanBytes(m.Bytes()))
	for _, p := range m.Parts {
		fmt.Fprintf(&b, "  %-9s %s\n", p.Name, p.summary())
	}
	return b.String()
}

func (p Part) summary() string {
	switch {
	case p.Database != nil:
		return fmt.Sprintf("base backup %s (%s, %d objects), WAL %s..%s", p.Database.BackupID, status.HumanBytes(p.Bytes), p.Objects, p.Database.BeginWal, p.Database.EndWal)
	case p.Name == PartMedia:
		return fmt.Sprintf("%d objects (%s): %d copied, %d unchanged", p.Objects, status.HumanBytes(p.Bytes), p.Copied, p.Unchanged)
	case p.Note != "":
		return p.Note
	case len(p.Locations) > 0:
		return fmt.Sprintf("%s (%s)", strings.Join(p.Locations, ", "), status.HumanBytes(p.Bytes))
	}
	return status.HumanBytes(p.Bytes)
}

// Text is the listing as `backup list` prints it, ages counted from now.
func (l *Listing) Text(now time.Time) string {
	var b strings.Builder
	if len(l.Sets) == 0 {
		b.WriteString("No backup set in the target: run `docs-appliance backup now`.\n")
	}
	for _, s := range l.Sets {
		state := "consistent"
		switch {
		case !s.Complete:
			state = "INCOMPLETE"
		case !s.Consistent:
			state = "INCONSISTENT"
		}
		age := "?"
		if !s.CreatedAt.IsZero() {
			age = now.Sub(s.CreatedAt).Round(time.Minute).String()
		}
		fmt.Fprintf(&b, "%s  %-12s age %-10s", s.ID, state, age)
		names := make([]string, 0, len(s.Bytes))
		for n := range s.Bytes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, " %s %s", n, status.HumanBytes(s.Bytes[n]))
		}
		b.WriteString("\n")
		if s.Problem != "" {
			fmt.Fprintf(&b, "    %s\n", s.Problem)
		}
	}
	if l.NewestConsistent != "" {
		fmt.Fprintf(&b, "Newest consistent set: %s\n", l.NewestConsistent)
	} else if len(l.Sets) > 0 {
		b.WriteString("No consistent set: run `docs-appliance backup now`.\n")
	}
	fmt.Fprintf(&b, "Database backups in the cluster: %d; base backups in the archive: %d\n", len(l.Backups), len(l.Archive))
	for _, cb := range l.Backups {
		fmt.Fprintf(&b, "  %s %s %s %s\n", cb.Name, cb.Phase, cb.BackupID, cb.Error)
	}
	for _, a := range l.Archive {
		fmt.Fprintf(&b, "  archive %s/%s: %d objects, %s\n", a.ServerName, a.BackupID, a.Objects, status.HumanBytes(a.Bytes))
	}
	if w := l.RecoveryWindow; w != nil && w.FirstRecoverabilityPoint != nil {
		last := "?"
		if w.LastSuccessfulBackupTime != nil {
			last = w.LastSuccessfulBackupTime.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "Recovery window (%s): from %s; last successful backup %s\n", w.ServerName, w.FirstRecoverabilityPoint.Format(time.RFC3339), last)
	}
	for _, w := range l.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
