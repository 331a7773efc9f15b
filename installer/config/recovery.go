package config

import (
	"fmt"
	"time"
)

// Recovery says the database was created from a backup (`restore --from`)
// rather than empty: CloudNativePG reads it only when it creates the
// cluster, so it stays in the config as the record of where the data came
// from, and a cluster deleted by hand is recreated from the same archive.
type Recovery struct {
	// ServerName is the archive the database was recovered from: the
	// serverName the backed-up cluster archived under.
	ServerName string `json:"serverName"`
	// TargetTime recovers to this instant (RFC 3339) instead of the newest
	// point the archive holds.
	TargetTime string `json:"targetTime,omitempty"`
}

// validateRecovery checks backup.recovery against the archive the cluster
// itself writes to: recovering from the archive one writes into fails in
// CloudNativePG ("Expected empty archive", cnpg #6470), and would mix two
// timelines' WAL in one place.
func (c *Config) validateRecovery(add func(path, problem, fix string)) {
	r := c.Backup.Recovery
	if r == nil {
		return
	}
	if p := ServerNameProblem(r.ServerName); p != "" {
		add("backup.recovery.serverName", p, "give the serverName the backed-up cluster archived under (`backup list` shows it)")
	} else if r.ServerName == c.Backup.ServerName {
		add("backup.recovery.serverName", fmt.Sprintf("%q is also backup.serverName, the archive this cluster writes to", r.ServerName),
			"give the recovered cluster an archive of its own: set backup.serverName to a new name (restore --from does)")
	}
	if r.TargetTime != "" {
		if _, err := time.Parse(time.RFC3339, r.TargetTime); err != nil {
			add("backup.recovery.targetTime", fmt.Sprintf("%q is not an RFC 3339 time", r.TargetTime), `e.g. "2026-12-02T03:15:00Z", or leave it out for the newest point`)
		}
	}
}
