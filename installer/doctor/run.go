package doctor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Parallel bounds how many checks run at once: most wait on the API server
// or the network, so a few at a time keep a full run short without
// crowding a small server.
const Parallel = 8

// Select returns the checks named by ids and groups (all when both are
// empty), in the order of all. An unknown ID or group is an error naming
// the known ones.
func Select(all []Check, ids, groups []string) ([]Check, error) {
	if len(ids) == 0 && len(groups) == 0 {
		return all, nil
	}
	known := map[string]bool{}
	for _, c := range all {
		known[c.ID] = true
	}
	for _, id := range ids {
		if !known[id] {
			return nil, &UnknownError{What: "check", Name: id, Known: IDs(all)}
		}
	}
	for _, g := range groups {
		if !slices.Contains(Groups, g) {
			return nil, &UnknownError{What: "group", Name: g, Known: Groups}
		}
	}
	var out []Check
	for _, c := range all {
		if slices.Contains(ids, c.ID) || slices.Contains(groups, c.Group) {
			out = append(out, c)
		}
	}
	return out, nil
}

// UnknownError is a --check or --group that names nothing.
type UnknownError struct {
	What, Name string
	Known      []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown %s %q (known: %s)", e.What, e.Name, strings.Join(e.Known, ", "))
}

// IDs lists the checks' IDs.
func IDs(checks []Check) []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.ID
	}
	return out
}

// Run runs the checks, at most Parallel at once, each under its deadline,
// and reports them in their order, grouped.
func Run(ctx context.Context, e *Env, checks []Check) *Report {
	results := make([]Result, len(checks))
	sem := make(chan struct{}, Parallel)
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runOne(ctx, e, c)
		}()
	}
	wg.Wait()
	order := map[string]int{}
	for i, g := range Groups {
		order[g] = i
	}
	sort.SliceStable(results, func(a, b int) bool { return order[results[a].Group] < order[results[b].Group] })
	r := &Report{Results: results}
	r.count()
	return r
}

func runOne(parent context.Context, e *Env, c Check) (res Result) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	start := time.Now()
	res = Result{ID: c.ID, Group: c.Group, Title: c.Title}
	defer func() {
		if p := recover(); p != nil {
			// A check's own bug must not hide the other checks' findings.
			res.Outcome, res.Detail = Failed, fmt.Sprintf("the check crashed: %v", p)
			res.Fix = "report this to the docs-appliance maintainers with the support bundle (doctor --support-bundle FILE); stack: " + firstFrames(debug.Stack())
		}
		res.Millis = time.Since(start).Milliseconds()
	}()
	f := c.Run(ctx, e)
	if ctx.Err() != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && f.Outcome != Passed {
		f.Detail = fmt.Sprintf("no answer within %s: %s", timeout, f.Detail)
	}
	if (f.Outcome == Warned || f.Outcome == Failed) && f.Fix == "" {
		f.Fix = "run doctor --support-bundle FILE and send it to whoever supports this appliance"
	}
	res.Outcome, res.Detail, res.Fix = f.Outcome, f.Detail, f.Fix
	return res
}

func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 12 {
		lines = lines[:12]
	}
	return strings.Join(lines, " | ")
}
