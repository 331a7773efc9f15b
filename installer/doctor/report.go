package doctor

import (
	"fmt"
	"strings"
)

// Exit codes (troubleshoot.sh's convention).
const (
	ExitOK       = 0
	ExitCouldNot = 1
	ExitFailed   = 3
	ExitWarnings = 4
)

// Result is one check's outcome in the report.
type Result struct {
	ID      string  `json:"id"`
	Group   string  `json:"group"`
	Title   string  `json:"title"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
	Fix     string  `json:"fix,omitempty"`
	// Millis is how long the check took.
	Millis int64 `json:"ms"`
}

// Report is a doctor run.
type Report struct {
	Results []Result `json:"results"`
	Summary Summary  `json:"summary"`
}

// Summary counts the outcomes; ExitCode is the process's.
type Summary struct {
	Passed   int `json:"passed"`
	Warnings int `json:"warnings"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
	ExitCode int `json:"exitCode"`
}

func (r *Report) count() {
	r.Summary = Summary{}
	for _, res := range r.Results {
		switch res.Outcome {
		case Passed:
			r.Summary.Passed++
		case Warned:
			r.Summary.Warnings++
		case Failed:
			r.Summary.Failed++
		case Skipped:
			r.Summary.Skipped++
		}
	}
	switch {
	case r.Summary.Failed > 0:
		r.Summary.ExitCode = ExitFailed
	case r.Summary.Warnings > 0:
		r.Summary.ExitCode = ExitWarnings
	default:
		r.Summary.ExitCode = ExitOK
	}
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

// IDs lists the checks with the outcome.
func (r *Report) IDs(o Outcome) []string {
	var ids []string
	for _, res := range r.Results {
		if res.Outcome == o {
			ids = append(ids, res.ID)
		}
	}
	return ids
}

// Err is nil when every check passed (or skipped), else a *FindingsError
// carrying the exit code (3 failures, 4 warnings only).
func (r *Report) Err() error {
	if r.Summary.ExitCode == ExitOK {
		return nil
	}
	return &FindingsError{Failed: r.IDs(Failed), Warned: r.IDs(Warned), Code: r.Summary.ExitCode}
}

// FindingsError says which checks did not pass.
type FindingsError struct {
	Failed, Warned []string
	Code           int
}

func (e *FindingsError) Error() string {
	if len(e.Failed) > 0 {
		return fmt.Sprintf("doctor: %d check(s) failed: %s (the fix is under each)", len(e.Failed), strings.Join(e.Failed, ", "))
	}
	return fmt.Sprintf("doctor: %d warning(s): %s (the fix is under each)", len(e.Warned), strings.Join(e.Warned, ", "))
}

// ExitCode is the process exit code.
func (e *FindingsError) ExitCode() int { return e.Code }

// FailedIDs lets the command's JSON error name the checks (as preflight's does).
func (e *FindingsError) FailedIDs() []string {
	return append(append([]string(nil), e.Failed...), e.Warned...)
}

var symbols = map[Outcome]string{Passed: "✔", Warned: "⚠", Failed: "✗", Skipped: "–"}

// Text renders the report for people: one block per group, a line per
// check, the fix under each warning and failure, then the counts.
func (r *Report) Text() string {
	var b strings.Builder
	b.WriteString("Doctor\n")
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.ID))
	}
	pad := strings.Repeat(" ", width+8)
	group := ""
	for _, res := range r.Results {
		if res.Group != group {
			group = res.Group
			fmt.Fprintf(&b, "  %s\n", group)
		}
		fmt.Fprintf(&b, "    %s %-*s  %s\n", symbols[res.Outcome], width, res.ID, oneLine(res.Detail))
		if res.Fix != "" && (res.Outcome == Failed || res.Outcome == Warned) {
			fmt.Fprintf(&b, "%sfix: %s\n", pad, oneLine(res.Fix))
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%d passed, %d warning(s), %d failed, %d skipped\n", s.Passed, s.Warnings, s.Failed, s.Skipped)
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
