// Package status is the one progress reporter every command passes down:
// a step line per unit of work (a spinner on a terminal, plain lines
// otherwise, JSON lines for machines), byte progress for long copies, and
// the final summary. Nothing in the installer prints on its own. The status
// goes to standard error: standard output is kept for the command's result
// (a plan, a report, one JSON document with --output json).
package status
