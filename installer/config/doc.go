// Package config owns the operator's answers: the Config type saved as
// appliance.yaml, parsed strictly (a duplicate key, an unknown field, a
// wrong type or a syntax error is refused with its line and the fix; a
// file above MaxFileSize is refused unread), its defaults (each one filled
// is recorded for the plan: Defaulted), `--set key=value` overrides,
// validation that reports every bad field at once with its path and the
// fix, and the state folder where the age key and secrets live.
//
// Secrets never live in appliance.yaml: the config names which secrets an
// answer needs (RequiredSecrets), generated or given by the operator, and
// the secrets package keeps them encrypted in the state folder with their
// origin (SecretOrigin): a secret the operator must give is never
// satisfied by a generated one.
//
// Where backups go is Config.BackupLocation: an external S3 target
// (recommended) or the embedded store's backups bucket (embedded storage
// only; Warnings says the same disk is not a backup). Its keys are always
// backup.accessKeyID and backup.secretAccessKey. When the target is the
// external storage's own bucket and the operator gives no keys of its own,
// RequiredSecrets marks them From the storage's: the secret store's Ensure
// (run by every load of the inputs and by the wizard's save) copies the
// storage's values in, as origin copied, and follows a rotated storage key;
// a copy never satisfies a target that is not the storage's bucket.
package config
