package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Step is one ordered thing a command does.
type Step interface {
	// ID is stable and short ("preflight", "k3s-binary"): plans, JSON and tests name steps by it.
	ID() string
	// Title is what the status line and the plan say, e.g. "Installing k3s v1.33.5+k3s1".
	Title() string
	// Check looks at facts and returns why there is nothing to do, or "" when there is work.
	// It changes nothing.
	Check(ctx context.Context) (done string, err error)
	// Run does the step's work.
	Run(ctx context.Context, st *status.Status) error
	// Timeout bounds Check and Run together; a step that runs past it fails, naming itself.
	Timeout() time.Duration
}

// Func is a Step made of functions, for the usual case of a step that shares its command's
// state through closures.
type Func struct {
	Name string
	// Describe is the title; TitleFunc, when set, computes it (after Check, for titles that
	// depend on facts, such as "start" against "restart").
	Describe  string
	TitleFunc func() string
	// CheckFunc is nil for a step that always has work (reads that must be fresh each run).
	CheckFunc func(ctx context.Context) (string, error)
	RunFunc   func(ctx context.Context, st *status.Status) error
	Deadline  time.Duration
	// Remote names what the step waits on (a git remote, an API server, a download URL); a
	// deadline error names it.
	Remote string
}

func (f *Func) ID() string { return f.Name }

func (f *Func) Title() string {
	if f.TitleFunc != nil {
		return f.TitleFunc()
	}
	return f.Describe
}

func (f *Func) Check(ctx context.Context) (string, error) {
	if f.CheckFunc == nil {
		return "", nil
	}
	return f.CheckFunc(ctx)
}

func (f *Func) Run(ctx context.Context, st *status.Status) error { return f.RunFunc(ctx, st) }

func (f *Func) Timeout() time.Duration { return f.Deadline }

// Waits is what a step waits on, for its deadline error.
func (f *Func) Waits() string { return f.Remote }

// Outcome is what happened to a step.
type Outcome string

const (
	Ran     Outcome = "ran"
	Skipped Outcome = "skipped"
	Failed  Outcome = "failed"
	// NotReached steps come after a failed one.
	NotReached Outcome = "not-reached"
)

// Result is one step's outcome, for reports and --output json.
type Result struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Outcome Outcome `json:"outcome"`
	// Why is the check's answer for a skipped step.
	Why     string  `json:"why,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Planned is a step as a dry run shows it.
type Planned struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Deadline is how long the step may take, in seconds.
	Deadline float64 `json:"deadlineSeconds"`
}

// Plan describes the list without running anything: the dry run prints what Run would do.
func Plan(list []Step) []Planned {
	out := make([]Planned, 0, len(list))
	for _, s := range list {
		out = append(out, Planned{ID: s.ID(), Title: s.Title(), Deadline: s.Timeout().Seconds()})
	}
	return out
}

// Run runs the steps in order: a step whose check finds nothing to do is skipped with the
// reason; the first failure stops the run. The results cover every step, reached or not.
func Run(ctx context.Context, st *status.Status, list []Step) ([]Result, error) {
	results := make([]Result, 0, len(list))
	for n, s := range list {
		r, err := runOne(ctx, st, s)
		results = append(results, r)
		if err != nil {
			for _, rest := range list[n+1:] {
				results = append(results, Result{ID: rest.ID(), Title: rest.Title(), Outcome: NotReached})
			}
			return results, err
		}
	}
	return results, nil
}

func runOne(parent context.Context, st *status.Status, s Step) (Result, error) {
	if err := parent.Err(); err != nil {
		return Result{ID: s.ID(), Title: s.Title(), Outcome: NotReached}, &InterruptedError{Step: s.ID(), Err: err}
	}
	ctx, cancel := context.WithTimeout(parent, s.Timeout())
	defer cancel()
	start := time.Now()
	fail := func(title string, err error) (Result, error) {
		err = explain(parent, ctx, s, err)
		return Result{ID: s.ID(), Title: title, Outcome: Failed, Seconds: time.Since(start).Seconds(), Error: err.Error()}, err
	}
	done, err := s.Check(ctx)
	if err != nil {
		title := s.Title()
		st.Start(title)
		st.End(err)
		return fail(title, fmt.Errorf("checking what is left to do: %w", err))
	}
	title := s.Title()
	if done != "" {
		st.Skip(title, done)
		return Result{ID: s.ID(), Title: title, Outcome: Skipped, Why: done}, nil
	}
	st.Start(title)
	err = s.Run(ctx, st)
	if err != nil {
		err = explain(parent, ctx, s, err)
		st.End(err)
		return Result{ID: s.ID(), Title: title, Outcome: Failed, Seconds: time.Since(start).Seconds(), Error: err.Error()}, err
	}
	st.End(nil)
	return Result{ID: s.ID(), Title: title, Outcome: Ran, Seconds: time.Since(start).Seconds()}, nil
}

// explain turns a step's error into one that says which step, and why it stopped: the
// operator interrupted it, or it ran past its deadline (naming what it waited on).
func explain(parent, ctx context.Context, s Step, err error) error {
	var de *DeadlineError
	var ie *InterruptedError
	if errors.As(err, &de) || errors.As(err, &ie) {
		return err
	}
	switch {
	case parent.Err() != nil:
		return &InterruptedError{Step: s.ID(), Err: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		waits := ""
		if w, ok := s.(interface{ Waits() string }); ok {
			waits = w.Waits()
		}
		return &DeadlineError{Step: s.ID(), Timeout: s.Timeout(), Waits: waits, Err: err}
	}
	return &Error{Step: s.ID(), Err: err}
}

// Error is a step's failure.
type Error struct {
	Step string
	Err  error
}

func (e *Error) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// DeadlineError is a step that ran past its deadline: a hung remote, never a hang.
type DeadlineError struct {
	Step    string
	Timeout time.Duration
	// Waits is what the step was waiting on, when it knows.
	Waits string
	Err   error
}

func (e *DeadlineError) Error() string {
	on := ""
	if e.Waits != "" {
		on = " waiting on " + e.Waits
	}
	return fmt.Sprintf("%s: did not finish within %s%s (%v); check that it answers, then run the command again: finished steps are skipped",
		e.Step, e.Timeout, on, e.Err)
}

func (e *DeadlineError) Unwrap() error { return e.Err }

// InterruptedError is a run stopped by the operator (Ctrl-C) or its caller.
type InterruptedError struct {
	Step string
	Err  error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted during step %s (%v): run the command again to resume; finished steps are skipped", e.Step, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// WithDeadlines gives the named steps other deadlines (tests, and operators on slow links).
func WithDeadlines(list []Step, deadlines map[string]time.Duration) []Step {
	if len(deadlines) == 0 {
		return list
	}
	out := make([]Step, len(list))
	for n, s := range list {
		out[n] = s
		if d, ok := deadlines[s.ID()]; ok {
			out[n] = &deadlined{Step: s, d: d}
		}
	}
	return out
}

type deadlined struct {
	Step
	d time.Duration
}

func (s *deadlined) Timeout() time.Duration { return s.d }

func (s *deadlined) Waits() string {
	if w, ok := s.Step.(interface{ Waits() string }); ok {
		return w.Waits()
	}
	return ""
}
