// Package reset owns `docs-appliance reset`: it stops and removes the k3s this appliance
// installed and the appliance's state, so the host is as before the install, leaving no process,
// mount, network interface or iptables rule of k3s behind. The age key and the volumes (the
// database, the object store, the backups) stay unless Purge is set, so a reinstall can decrypt
// the desired state and the data can be restored: k3s keeps the volumes in the state folder
// (k3s.VolumesDir), and volumes an older install left in k3s's data folder are moved there
// before that folder is removed. Backups are never deleted by default: even a purge keeps the
// embedded object store's backups volume unless DeleteBackups is set too, and refuses to delete
// backups an older appliance kept inside the object store's data volume.
//
// Reset empties only the appliance's own state folder: one holding secrets.StateMarker, or
// nothing but the names the appliance writes there. Any other folder given as --state-dir is
// refused before anything changes.
//
// Reset looks first and acts second: Plan gathers the facts (k3s processes, mounts under k3s's
// folders from /proc/self/mountinfo, k3s's interfaces and rules, files, state) and says what it
// would do; Run asks for confirmation (or takes Yes), then carries the plan out in order. A k3s
// not installed by the appliance is left alone. Every step works from facts, so a reset killed
// half-way, run again, finishes; a reset with nothing left says so and changes nothing. The k3s
// unit file, which marks k3s as the appliance's, is removed last for that reason.
package reset
