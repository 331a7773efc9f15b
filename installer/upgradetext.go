package installer

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// WriteUpgradeText prints upgrade's result for people: the dry run's every hop and step, or
// what each hop did.
func WriteUpgradeText(w io.Writer, r *UpgradeResult) {
	var b strings.Builder
	hops := strings.Join(append([]string{r.From}, r.Path...), " → ")
	switch r.Outcome {
	case UpgradeUpToDate:
		fmt.Fprintf(&b, "up to date: the appliance runs train %s\n", r.From)
	case UpgradeDryRun:
		fmt.Fprintf(&b, "Upgrade %s → %s, %d hop(s): %s (dry run: nothing changes)\n", r.From, r.To, len(r.Hops), hops)
		for n, h := range r.Hops {
			stop := ""
			if h.RequiredStop {
				stop = " (required stop)"
			}
			fmt.Fprintf(&b, "\nHop %d: %s → %s%s\n", n+1, h.From, h.To, stop)
			for i, s := range h.Steps {
				fmt.Fprintf(&b, "  %2d. %-9s %s\n", i+1, s.ID, s.Title)
				if s.Outcome == steps.Skipped {
					fmt.Fprintf(&b, "      %-9s skipped: %s\n", "", s.Why)
				}
			}
			writeIrreversible(&b, h)
		}
	default:
		fmt.Fprintf(&b, "Upgrade %s → %s (%s): %s\n", r.From, r.To, hops, r.Outcome)
		for _, h := range r.Hops {
			fmt.Fprintf(&b, "  %s → %s: %s in %s", h.From, h.To, h.Outcome, (time.Duration(h.Seconds) * time.Second).String())
			if h.Commit != "" {
				fmt.Fprintf(&b, ", commit %s", short(h.Commit))
			}
			if h.RollbackCommit != "" {
				fmt.Fprintf(&b, ", reverted by %s", short(h.RollbackCommit))
			}
			b.WriteString("\n")
			for _, s := range h.Steps {
				if s.Outcome == steps.Ran || s.Outcome == steps.Failed {
					fmt.Fprintf(&b, "      %-17s %-7s %6.1fs\n", s.ID, s.Outcome, s.Seconds)
				}
			}
		}
	}
	_, _ = io.WriteString(w, b.String())
}

func writeIrreversible(b *strings.Builder, h HopResult) {
	if len(h.Irreversible) == 0 {
		b.WriteString("  cannot be undone: nothing; if the hop fails after its commit is pushed, it is reverted and Flux converges on " + h.From + " again\n")
		return
	}
	b.WriteString("  cannot be undone once its commit is pushed (a failure then stops, reverts nothing, and gives the restore command):\n")
	for _, ir := range h.Irreversible {
		fmt.Fprintf(b, "    - %s: %s\n", ir.Component, ir.Reason)
	}
}

// WriteRollbackText prints rollback's result.
func WriteRollbackText(w io.Writer, r *RollbackResult) {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "Rollback %s → %s, reverting commit %s (dry run: nothing changes)\n", r.From, r.To, short(r.Commit))
		for i, s := range r.Steps {
			fmt.Fprintf(&b, "  %2d. %-17s %s\n", i+1, s.ID, s.Title)
		}
	} else if r.Outcome == HopRolledBack {
		fmt.Fprintf(&b, "Rolled back %s → %s: commit %s reverted by %s\n", r.From, r.To, short(r.Commit), short(r.RollbackCommit))
	}
	_, _ = io.WriteString(w, b.String())
}
