package doctor

import (
	"context"
	"fmt"
	"time"
)

// Outcome is what one check found.
type Outcome string

const (
	Passed Outcome = "pass"
	Warned Outcome = "warn"
	Failed Outcome = "fail"
	// Skipped: the check does not apply to this appliance (a component the
	// configuration does not have) or was not asked for; Detail says which.
	Skipped Outcome = "skip"
)

// Groups in the order they are reported: from the host outwards, the way
// a user's request travels back.
var Groups = []string{"host", "cluster", "gitops", "secrets", "platform", "edge", "app", "user-path"}

// Check is one named health check.
type Check struct {
	// ID is stable across releases: scripts and --check use it.
	ID string
	// Group is one of Groups.
	Group string
	// Title says what is checked, in words an operator reads.
	Title string
	// Timeout bounds the check (DefaultTimeout when zero); a check that
	// runs out of time fails naming what it waited on.
	Timeout time.Duration
	// Run looks and reports; it never changes anything.
	Run func(ctx context.Context, e *Env) Finding
}

// DefaultTimeout bounds a check that sets no Timeout.
const DefaultTimeout = 10 * time.Second

// Finding is what a check's Run returns.
type Finding struct {
	Outcome Outcome
	// Detail is one line of what was found.
	Detail string
	// Fix says what to do; required when Outcome is Warned or Failed.
	Fix string
}

// Pass is a passing finding.
func Pass(format string, a ...any) Finding {
	return Finding{Outcome: Passed, Detail: fmt.Sprintf(format, a...)}
}

// Warn is a warning with its fix.
func Warn(fix, format string, a ...any) Finding {
	return Finding{Outcome: Warned, Detail: fmt.Sprintf(format, a...), Fix: fix}
}

// Fail is a failure with its fix.
func Fail(fix, format string, a ...any) Finding {
	return Finding{Outcome: Failed, Detail: fmt.Sprintf(format, a...), Fix: fix}
}

// Skip is a check that does not apply here; detail says why.
func Skip(format string, a ...any) Finding {
	return Finding{Outcome: Skipped, Detail: fmt.Sprintf(format, a...)}
}

// Unreachable is the finding of a check whose source of facts could not be
// read (the API server, the repository): a failure naming what was being
// done, with the fix for reaching it.
func Unreachable(doing string, err error, fix string) Finding {
	return Finding{Outcome: Failed, Detail: fmt.Sprintf("%s: %v", doing, err), Fix: fix}
}
