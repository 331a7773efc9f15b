//go:build e2e

package appliance

import "testing"

// Every title of an upgrade hop starts with the hop: the longest shared prefix tells the steps
// apart, and a rerun's earlier step is not taken for a later one.
func TestStepAtTellsStepsOfAHopApart(t *testing.T) {
	titles := []string{
		"2099.02 → 2099.03: Checking the gates (train locked, the cluster answers)",
		"2099.02 → 2099.03: Checking that the 6 images of train 2099.03 are on every node",
		"2099.02 → 2099.03: Committing the render as one commit (upgrade 2099.02 → 2099.03) and pushing it",
		"2099.02 → 2099.03: Checking the appliance on train 2099.03 (doctor finds no failure)",
	}
	for _, c := range []struct {
		line string
		from int
		want int
	}{
		{"► " + titles[0], 0, 0},
		{"► " + titles[0], 1, -1}, // the gates again, in a rerun past them: not the doctor step
		{"► " + titles[3], 1, 3},
		{"► 2099.02 → 2099.03: Checking that the 7 images of train 2099.03 are on every node", 0, 1}, // a fact in the title changed
		{"✔ " + titles[2], 0, -1}, // the step's end, not its start
		{"► something else", 0, -1},
	} {
		if got := StepAt(titles, c.from, c.line); got != c.want {
			t.Errorf("StepAt(%q, from %d) = %d, want %d", c.line, c.from, got, c.want)
		}
	}
}
