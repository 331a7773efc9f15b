package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Severity is what a check's failure means for the install.
type Severity string

const (
	// Fail blocks the install.
	Fail Severity = "fail"
	// Warn is shown and does not block.
	Warn Severity = "warn"
)

// Outcome is the result of one check.
type Outcome string

const (
	Passed  Outcome = "pass"
	Warned  Outcome = "warn"
	Failed  Outcome = "fail"
	Ignored Outcome = "ignored"
)

// Result is what one check found.
type Result struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	What     string   `json:"what"`
	Outcome  Outcome  `json:"outcome"`
	// Detail is what was found, e.g. "7.6 GiB of memory".
	Detail string `json:"detail"`
	// Fix says how to make the check pass; set when it did not.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of a set of checks.
type Report struct {
	// Kind is "host" or "cluster".
	Kind string `json:"kind"`
	// Profile whose thresholds were applied (host checks).
	Profile string   `json:"profile,omitempty"`
	Results []Result `json:"results"`
	Summary Summary  `json:"summary"`
	OK      bool     `json:"ok"`
}

// Summary counts the outcomes.
type Summary struct {
	Passed   int      `json:"passed"`
	Warnings int      `json:"warnings"`
	Failed   int      `json:"failed"`
	Ignored  []string `json:"ignored,omitempty"`
}

func (r *Report) add(res Result) {
	r.Results = append(r.Results, res)
	switch res.Outcome {
	case Passed:
		r.Summary.Passed++
	case Warned:
		r.Summary.Warnings++
	case Failed:
		r.Summary.Failed++
	case Ignored:
		r.Summary.Ignored = append(r.Summary.Ignored, res.ID)
	}
	r.OK = r.Summary.Failed == 0
}

// Get returns the result of the check with id.
func (r *Report) Get(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// FailedIDs lists the checks that failed.
func (r *Report) FailedIDs() []string {
	var ids []string
	for _, res := range r.Results {
		if res.Outcome == Failed {
			ids = append(ids, res.ID)
		}
	}
	return ids
}

// ExitFailed is the exit code of a run where a check failed. 1 stays for errors that kept the
// checks from running (bad flags, unreadable files), so scripts can tell them apart.
const ExitFailed = 3

// FailedError is returned by Report.Err when a check failed; it carries the exit code.
type FailedError struct {
	Kind string
	IDs  []string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%s preflight: %d check(s) failed: %s (fix them, or skip one knowingly with --ignore-preflight=ID)",
		e.Kind, len(e.IDs), strings.Join(e.IDs, ", "))
}

// ExitCode is the process exit code for a failed preflight.
func (e *FailedError) ExitCode() int { return ExitFailed }

// Err returns a *FailedError when a check failed, nil otherwise (warnings do not fail).
func (r *Report) Err() error {
	if r.OK {
		return nil
	}
	return &FailedError{Kind: r.Kind, IDs: r.FailedIDs()}
}

var symbols = map[Outcome]string{Passed: "✔", Warned: "⚠", Failed: "✗", Ignored: "◎"}

// Text renders the report for people: one line per check, the fix under each failure and
// warning, and a summary naming the ignored checks.
func (r *Report) Text() string {
	var b strings.Builder
	title := "Host preflight"
	if r.Kind == "cluster" {
		title = "Cluster preflight"
	}
	if r.Profile != "" {
		title += " (profile " + r.Profile + ")"
	}
	b.WriteString(title + "\n")
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.ID))
	}
	pad := strings.Repeat(" ", width+6) // under the detail column
	for _, res := range r.Results {
		detail := res.Detail
		if res.Outcome == Ignored {
			detail = "ignored (--ignore-preflight): " + res.What
		}
		fmt.Fprintf(&b, "  %s %-*s  %s\n", symbols[res.Outcome], width, res.ID, strings.ReplaceAll(detail, "\n", "\n"+pad))
		if res.Fix != "" && (res.Outcome == Failed || res.Outcome == Warned) {
			fmt.Fprintf(&b, "%sfix: %s\n", pad, strings.ReplaceAll(res.Fix, "\n", "\n"+pad+"     "))
		}
	}
	fmt.Fprintf(&b, "%d passed, %d warning(s), %d failed", r.Summary.Passed, r.Summary.Warnings, r.Summary.Failed)
	if n := len(r.Summary.Ignored); n > 0 {
		fmt.Fprintf(&b, ", %d ignored (%s)", n, strings.Join(r.Summary.Ignored, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

// Write renders the report to w, as JSON when asJSON is set and as Text otherwise.
func (r *Report) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	_, err := io.WriteString(w, r.Text())
	return err
}
