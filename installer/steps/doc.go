// Package steps is the one step engine of install, upgrade, doctor, backup and join: an ordered
// list of steps, each of which answers "still has work?" from facts it reads on the host, the
// cluster or the repository, runs under its own deadline, and describes itself for a dry run.
// The plan a user sees is printed from the same list that runs, so a step that is not built
// cannot be promised, and a killed command, run again, skips what is finished and says so.
// The shape is k0sctl's phases (Title, ShouldRun, Run, DryRun).
package steps
