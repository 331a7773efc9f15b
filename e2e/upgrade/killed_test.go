//go:build e2e

package upgrade

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/e2e/appliance"
)

// killedAtEveryStep upgrades 2099.02 → 2099.03 with runs killed (SIGKILL) as each step of the
// hop starts, in order: the first run is killed at its first step, its rerun (same arguments) at
// the next step it starts, and so on, so every step is both killed and resumed past. A step that
// has nothing to do in this setup (k3s under --kubeconfig, Flux whose version does not change)
// never starts, so the run is killed at the next one that does. The last rerun must finish the
// hop with one commit, and the app answer throughout.
func (f *fixture) killedAtEveryStep(ctx context.Context, t *testing.T) {
	t.Helper()
	plan := f.dryRun(ctx, t, f.upgradeArgs("2099.03")...)
	if len(plan) != 1 {
		t.Fatalf("the dry run from 2099.02 lists %d hops, want 1", len(plan))
	}
	steps := plan[0]
	var ids, titles []string
	for _, s := range steps {
		ids, titles = append(ids, s.ID+"("+s.Outcome+")"), append(titles, s.Title)
	}
	t.Logf("the hop's steps: %s", strings.Join(ids, " → "))
	before := f.history(ctx, t)
	p := f.startProber(t)
	killed := map[string]bool{}
	start := time.Now()
	next, finished := 0, false
	for round := 0; round <= len(steps) && !finished; round++ {
		at := -1
		match := func(line string) bool {
			at = appliance.StepAt(titles, next, line)
			return at >= 0
		}
		begin := time.Now()
		cmd := f.app.Command(ctx, f.args("upgrade", f.upgradeArgs("2099.03")...)...)
		out, signalled, err := appliance.Signalled(t, cmd, match, os.Kill)
		if !signalled {
			if err != nil {
				t.Fatalf("the rerun after a kill failed: %v\n%s", err, out)
			}
			t.Logf("round %d: the rerun finished the hop in %s", round, time.Since(begin).Round(100*time.Millisecond))
			finished = true
			break
		}
		killed[steps[at].ID] = true
		t.Logf("round %d: killed at %s after %s", round, steps[at].ID, time.Since(begin).Round(100*time.Millisecond))
		next = at + 1
	}
	seen := p.Stop()
	t.Logf("killed runs and reruns: %s; availability: %s", time.Since(start).Round(time.Second), seen)
	if !finished {
		t.Fatal("the reruns did not finish the hop")
	}
	var missed []string
	for _, s := range steps {
		if !killed[s.ID] && s.Outcome != "skipped" {
			missed = append(missed, s.ID)
		}
	}
	if len(missed) > 0 {
		t.Errorf("steps never killed (they did not start in any run): %v", missed)
	}
	f.waitVersion(ctx, t, "v3", "0.3.0")
	f.waitDomain(ctx, t, changedDomain) // the config change before the hop is kept
	if got := f.savedTrain(t); got != "2099.03" {
		t.Errorf("the saved config names train %s", got)
	}
	hist := f.history(ctx, t)
	if added := hist[:len(hist)-len(before)]; len(added) != 1 || !strings.HasPrefix(added[0], "upgrade 2099.02 → 2099.03") {
		t.Errorf("the killed runs and reruns committed %q, want one commit of the hop", added)
	}
	f.checkRecorded(t, "2099.03")
	if seen.Failures > 0 {
		t.Errorf("the app did not answer %d times while upgrades were killed", seen.Failures)
	}
	if r := f.cmd(ctx, t, "upgrade", f.upgradeArgs("2099.03")...); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "up to date") {
		t.Errorf("after the resumed hop, upgrade does not say up to date: %s", r)
	}
}

// checkAppKept checks that the app's namespace, Deployment, Service and Secret are all there.
func (f *fixture) checkAppKept(ctx context.Context, t *testing.T) {
	t.Helper()
	k := f.app.Client.Kube
	if _, err := k.CoreV1().Namespaces().Get(ctx, appNamespace, metav1.GetOptions{}); err != nil {
		t.Errorf("the app's namespace: %v", err)
	}
	if _, err := k.AppsV1().Deployments(appNamespace).Get(ctx, appName, metav1.GetOptions{}); err != nil {
		t.Errorf("the app's Deployment: %v", err)
	}
	if _, err := k.CoreV1().Services(appNamespace).Get(ctx, appName, metav1.GetOptions{}); err != nil {
		t.Errorf("the app's Service: %v", err)
	}
	if _, err := k.CoreV1().Secrets(appNamespace).Get(ctx, appName+"-token", metav1.GetOptions{}); err != nil {
		t.Errorf("the app's Secret: %v", err)
	}
}
