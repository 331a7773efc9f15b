// Package config owns the operator's answers: the Config type saved as
// appliance.yaml, its defaults, `--set key=value` overrides, validation
// that reports every bad field at once with its path and the fix, and the
// state folder where the age key and secrets live.
//
// Secrets never live in appliance.yaml: the config names which secrets an
// answer needs (RequiredSecrets) and the secrets package keeps them
// encrypted in the state folder.
package config
