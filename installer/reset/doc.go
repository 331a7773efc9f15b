// Package reset owns `docs-appliance reset`: it stops and removes the k3s this appliance
// installed and the appliance's state, so the host is as before the install, leaving no process,
// mount, network interface or iptables rule of k3s behind. Backups and the age key stay unless
// Purge is set, so a reinstall can restore the data and decrypt the desired state.
//
// Reset looks first and acts second: Plan gathers the facts (k3s processes, mounts under k3s's
// folders from /proc/self/mountinfo, k3s's interfaces and rules, files, state) and says what it
// would do; Run asks for confirmation (or takes Yes), then carries the plan out in order. A k3s
// not installed by the appliance is left alone. Every step works from facts, so a reset killed
// half-way, run again, finishes; a reset with nothing left says so and changes nothing. The k3s
// unit file, which marks k3s as the appliance's, is removed last for that reason.
package reset
