// Package backup takes and lists the appliance's backup sets: everything needed to rebuild the
// appliance elsewhere, written to one S3 target (a bucket and a prefix) in the layout every part
// of the appliance agrees on (issue #14):
//
//	database/<serverName>/base/<backupID>/...   barman-cloud's base backups (and .../wals/)
//	media/<object key>                          copies of the media bucket's current objects
//	git/<setID>.bundle                          the desired-state repository, every ref
//	state/<setID>/<file>                        appliance.yaml and the encrypted secret store
//	sets/<setID>.json                           the set's manifest, written last
//
// A set without its manifest is incomplete. Every object the appliance writes carries its
// SHA-256 in its metadata and is read back before the set counts it, so a run that was killed
// resumes without sending again what already landed. The age key is never part of a set:
// restoring needs its offline copy.
package backup
