// Package installer is the engine behind the commands: actions such as
// Render, Install, Doctor, UpgradePlan, Upgrade and Rollback are structs with exported options and Run(ctx, st),
// built from the packages beside it (config, render, secrets, preflight,
// k3s, gitops, cluster). Commands bind flags into the options and call Run;
// nothing here prints except through the status object.
package installer
