// Package wizard walks the operator through the appliance's answers with
// survey prompts — domains, TLS, identity, object storage, git, SMTP,
// sizing profile — and checks each answer against the real service
// (through Checks; probe.Live is the real one) before moving on: a bad
// answer is asked again with the reason. Secrets are asked masked. The
// answers are saved as appliance.yaml (0600) and the SOPS-encrypted secret
// store, so the next run is headless.
//
// Verify runs the same live checks on a config without prompting, for
// `install --non-interactive`.
package wizard
