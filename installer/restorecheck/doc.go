// Package restorecheck reads and runs the appliance's restore check: the
// CronJob render.RestoreCheckCronJob recovers a throwaway CloudNativePG
// cluster from the newest completed backup, compares the restored data
// with the live data, and records the outcome in ConfigMap
// render.RestoreCheckResult. Result is that record, Read fetches it, Run
// starts the CronJob's Job now (as `kubectl create job --from=cronjob`
// does), waits for it and returns its result. Doctor, `restore-check now`,
// `backup` and the upgrade gate use it.
package restorecheck
