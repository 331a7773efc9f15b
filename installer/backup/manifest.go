package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// IDFormat is how a set is named: its start time in UTC, e.g. 20261202T031500Z.
const IDFormat = "20060102T150405Z"

// NewID names a set started at now.
func NewID(now time.Time) string { return now.UTC().Format(IDFormat) }

// Part names, in the order a set is taken.
const (
	PartDatabase = "database"
	PartMedia    = "media"
	PartIdentity = "identity"
	PartGit      = "git"
	PartState    = "state"
)

// Parts every complete set has.
var Parts = []string{PartDatabase, PartMedia, PartIdentity, PartGit, PartState}

// Manifest describes one backup set (sets/<id>.json).
type Manifest struct {
	ID               string    `json:"id"`
	CreatedAt        time.Time `json:"createdAt"`
	FinishedAt       time.Time `json:"finishedAt"`
	Train            string    `json:"train"`
	ApplianceVersion string    `json:"applianceVersion"`
	Parts            []Part    `json:"parts"`
}

// Part is what one part of a set holds and where.
type Part struct {
	Name string `json:"name"`
	// Locations are the objects or prefixes (s3:// URLs) the part is in.
	Locations []string `json:"locations,omitempty"`
	Objects   int      `json:"objects,omitempty"`
	Bytes     int64    `json:"bytes"`
	// SHA256 is set where the appliance wrote the bytes as one object (the git bundle).
	SHA256 string `json:"sha256,omitempty"`
	// Files are the objects of a part of several files (state).
	Files []File `json:"files,omitempty"`
	// Verified: every object was read back (or listed, for barman's) with the expected size
	// and checksum before the manifest was written.
	Verified bool `json:"verified"`
	// CoveredBy names the part that holds this one's data (identity: the database).
	CoveredBy string          `json:"coveredBy,omitempty"`
	Note      string          `json:"note,omitempty"`
	Database  *DatabaseBackup `json:"database,omitempty"`
	// Copied and Unchanged count the media objects sent this run and those already there.
	Copied    int `json:"copied,omitempty"`
	Unchanged int `json:"unchanged,omitempty"`
	// Refs counts the refs of the git bundle.
	Refs int `json:"refs,omitempty"`
}

// File is one object of a part.
type File struct {
	Name     string `json:"name"`
	Location string `json:"location"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
}

// DatabaseBackup is the CloudNativePG base backup a set uses.
type DatabaseBackup struct {
	// Name is the Backup object's, in the database namespace.
	Name       string    `json:"name"`
	BackupID   string    `json:"backupID"`
	ServerName string    `json:"serverName"`
	BeginWal   string    `json:"beginWal"`
	EndWal     string    `json:"endWal"`
	StartedAt  time.Time `json:"startedAt"`
	StoppedAt  time.Time `json:"stoppedAt"`
}

// Part returns the named part, nil when the manifest has none.
func (m *Manifest) Part(name string) *Part {
	for i := range m.Parts {
		if m.Parts[i].Name == name {
			return &m.Parts[i]
		}
	}
	return nil
}

// Bytes is the set's size: every part's bytes (the media copies count whole, though later sets
// share them).
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Bytes
	}
	return n
}

func manifestRel(id string) string { return "sets/" + id + ".json" }

// writeManifest writes the set's manifest, read back and verified.
func (s *store) writeManifest(ctx context.Context, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the manifest of set %s: %w", m.ID, err)
	}
	if _, err := s.putBytes(ctx, s.t.Key(manifestRel(m.ID)), append(data, '\n')); err != nil {
		return fmt.Errorf("writing the manifest of set %s: %w", m.ID, err)
	}
	return nil
}

// readManifest reads sets/<id>.json.
func (s *store) readManifest(ctx context.Context, id string) (*Manifest, error) {
	data, err := s.get(ctx, s.t.Key(manifestRel(id)), 16<<20)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading the manifest of set %s: %w", id, err)
	}
	return &m, nil
}

// ReadManifest reads set id's manifest from the target (restore reads the set it rebuilds from).
func ReadManifest(ctx context.Context, t Target, id string) (*Manifest, error) {
	s, err := t.open()
	if err != nil {
		return nil, err
	}
	return s.readManifest(ctx, id)
}
