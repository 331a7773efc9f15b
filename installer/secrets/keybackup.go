package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
)

// KeyBackupFileName records that the operator confirmed an offline copy of
// the age key: which key (its public half) and when. Restoring any backup
// needs the key, and a lost key is the one loss no backup repairs, so
// doctor warns until this record matches the key in use.
const KeyBackupFileName = "age-key-backup.json"

// KeyBackup is the confirmation record.
type KeyBackup struct {
	Recipient   string    `json:"recipient"`
	ConfirmedAt time.Time `json:"confirmedAt"`
}

// ConfirmKeyBackup records that the key with recipient has an offline copy.
func ConfirmKeyBackup(stateDir, recipient string, now time.Time) error {
	data, err := json.Marshal(KeyBackup{Recipient: recipient, ConfirmedAt: now.UTC()})
	if err != nil {
		return fmt.Errorf("encoding the key backup record: %w", err)
	}
	return atomicfile.Write(filepath.Join(stateDir, KeyBackupFileName), append(data, '\n'), 0o600)
}

// ReadKeyBackup returns the confirmation record, nil when there is none.
func ReadKeyBackup(stateDir string) (*KeyBackup, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, KeyBackupFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the key backup record: %w", err)
	}
	var kb KeyBackup
	if err := json.Unmarshal(data, &kb); err != nil {
		return nil, fmt.Errorf("reading the key backup record %s: %w", KeyBackupFileName, err)
	}
	return &kb, nil
}
