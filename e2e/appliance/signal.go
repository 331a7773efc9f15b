//go:build e2e

package appliance

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// StepStarted matches the status line that starts the step whose planned title is title
// ("► <title>", as a --dry-run plan lists it; titles that depend on facts keep their first
// words, so four are compared).
func StepStarted(title string) func(line string) bool {
	words := strings.Fields(title)
	if len(words) > 4 {
		words = words[:4]
	}
	prefix := "► " + strings.Join(words, " ")
	return func(line string) bool { return strings.HasPrefix(line, prefix) }
}

// Signalled starts cmd (its stdout and stderr combined) and sends it sig, once, when a line of
// its output matches. It returns the output, whether the signal was sent, and cmd's end.
func Signalled(t *testing.T, cmd *exec.Cmd, match func(line string) bool, sig os.Signal) (string, bool, error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var out strings.Builder
	signalled := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if !signalled && match(line) {
			// Our own child, by its PID.
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	err := <-done
	return out.String(), signalled, err
}

// StepAt is the index, from `from` on, of the step whose start the status line announces ("►
// <title>"), or -1. Titles may share their first words (every step of an upgrade hop begins with
// the hop, "2099.02 → 2099.03: Checking ..."), so the line is the step whose title it shares the
// most leading words with, among all titles (an earlier step run again by a rerun is not a later
// one), and at least four of them (titles that depend on facts keep those, as StepStarted).
func StepAt(titles []string, from int, line string) int {
	rest, ok := strings.CutPrefix(line, "► ")
	if !ok {
		return -1
	}
	words := strings.Fields(rest)
	best, bestN := -1, 0
	for n, title := range titles {
		tw := strings.Fields(title)
		same := 0
		for same < len(tw) && same < len(words) && tw[same] == words[same] {
			same++
		}
		if same >= min(4, len(tw)) && same > bestN {
			best, bestN = n, same
		}
	}
	if best < from {
		return -1
	}
	return best
}
