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
package config
