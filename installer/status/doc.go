// Package status is the one progress reporter every command passes down:
// a step line per unit of work (a spinner on a terminal, plain lines
// otherwise, JSON lines for machines), byte progress for long copies, and
// the final summary. Nothing in the installer prints on its own.
package status
