package upgrade

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the plan for people; with p.Diff every hop's whole
// diff follows its summary.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(p.Hops) == 0 {
		fmt.Fprintf(&b, "Environment %s is on train %s: nothing to upgrade.\n", p.Environment, p.From)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "Upgrade plan for environment %s: train %s → %s, %d hop(s): %s\n", p.Environment, p.From, p.To, len(p.Hops),
		strings.Join(append([]string{p.From}, p.Path...), " → "))
	var stops []string
	for _, h := range p.Hops {
		if h.RequiredStop {
			stops = append(stops, h.To)
		}
	}
	if len(stops) > 0 {
		fmt.Fprintf(&b, "Required stops (cannot be skipped): %s\n", strings.Join(stops, ", "))
	}
	b.WriteString("\nGates, now:\n")
	for _, g := range p.Gates {
		fmt.Fprintf(&b, "  %-13s %s: %s\n", "["+string(g.Outcome)+"]", g.ID, g.Message)
		if g.Fix != "" && g.Outcome != Pass {
			fmt.Fprintf(&b, "                fix: %s\n", g.Fix)
		}
	}
	for i, h := range p.Hops {
		writeHop(&b, i+1, h, p.Diff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHop(b *strings.Builder, n int, h Hop, diff bool) {
	stop := ""
	if h.RequiredStop {
		stop = " (required stop)"
	}
	fmt.Fprintf(b, "\nHop %d: %s → %s%s, one commit\n", n, h.From, h.To, stop)
	for _, c := range []Change{h.K3s, h.Flux, h.Docs} {
		fmt.Fprintf(b, "  %-6s %s\n", label(c.Name)+":", version(c))
	}
	for _, c := range h.FluxControllers {
		fmt.Fprintf(b, "    %s %s\n", c.Name, version(c))
	}
	writeChanges(b, "charts", h.Charts)
	writeChanges(b, "images", h.Images)
	switch ni := h.NewImages; {
	case ni.Count == 0:
		b.WriteString("  new images: none\n")
	case len(ni.WithoutSize) > 0:
		fmt.Fprintf(b, "  new images: %d, %s recorded; %d without a recorded size\n", ni.Count, bytesText(ni.Bytes), len(ni.WithoutSize))
	default:
		fmt.Fprintf(b, "  new images: %d, %s\n", ni.Count, bytesText(ni.Bytes))
	}
	added, removed, modified, lines, gone := 0, 0, 0, 0, 0
	for _, c := range h.Components {
		added, removed, modified = added+c.Added, removed+c.Removed, modified+c.Modified
		lines, gone = lines+c.LinesAdded, gone+c.LinesGone
	}
	if len(h.NotRendered) > 0 {
		fmt.Fprintf(b, "  not in the diff: %s (charts this build does not carry; pass --charts DIR or use a release build)\n", strings.Join(h.NotRendered, ", "))
	}
	if len(h.Files) == 0 {
		b.WriteString("  desired state: unchanged\n")
	} else {
		fmt.Fprintf(b, "  desired state: %d file(s): %d modified, %d added, %d removed; +%d −%d lines\n",
			len(h.Files), modified, added, removed, lines, gone)
		for _, c := range h.Components {
			fmt.Fprintf(b, "    %-28s %s\n", c.Name, componentText(c))
		}
		for _, f := range h.Files {
			if f.Secret {
				keys := ""
				if len(f.Keys) > 0 {
					keys = " (keys " + strings.Join(f.Keys, ", ") + ")"
				}
				fmt.Fprintf(b, "    encrypted %s: %s%s\n", f.Path, secretNote(f.Change), keys)
			}
		}
	}
	if len(h.Irreversible) == 0 {
		b.WriteString("  cannot be undone: nothing; a hop that fails to converge is rolled back (git revert of its commit)\n")
	} else {
		b.WriteString("  cannot be undone (past this, the way back is a restore of the pre-upgrade backup):\n")
		for _, ir := range h.Irreversible {
			fmt.Fprintf(b, "    - %s: %s\n", ir.Component, ir.Reason)
		}
	}
	if diff && len(h.Files) > 0 {
		fmt.Fprintf(b, "\n  Diff of hop %d (%s → %s):\n", n, h.From, h.To)
		for _, f := range h.Files {
			b.WriteString(f.Diff)
			if !strings.HasSuffix(f.Diff, "\n") {
				b.WriteString("\n")
			}
		}
	}
}

func label(name string) string {
	switch name {
	case "flux":
		return "Flux"
	case "docs":
		return "Docs"
	}
	return name
}

func version(c Change) string {
	switch {
	case c.From == c.To:
		return c.To + " (unchanged)"
	case c.From == "":
		return c.To + " (new)"
	case c.To == "":
		return c.From + " (removed)"
	}
	return c.From + " → " + c.To
}

func writeChanges(b *strings.Builder, what string, cs []Change) {
	if len(cs) == 0 {
		fmt.Fprintf(b, "  %s: unchanged\n", what)
		return
	}
	fmt.Fprintf(b, "  %s:\n", what)
	for _, c := range cs {
		fmt.Fprintf(b, "    %s %s\n", c.Name, version(c))
	}
}

func componentText(c Component) string {
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{c.Modified, "modified"}, {c.Added, "added"}, {c.Removed, "removed"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	s := strings.Join(parts, ", ")
	if c.LinesAdded+c.LinesGone > 0 {
		s += fmt.Sprintf(" (+%d −%d)", c.LinesAdded, c.LinesGone)
	}
	if c.Secrets > 0 {
		s += fmt.Sprintf(", %d re-encrypted", c.Secrets)
	}
	return s
}

func bytesText(n int64) string {
	const mib = 1 << 20
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/mib)
}
