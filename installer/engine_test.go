package installer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// lockedTrainFile writes the locked test train and returns its path.
func lockedTrainFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "train.yaml")
	if err := os.WriteFile(p, []byte(lockedTrain), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lockedInputs(t *testing.T, state string) InputOptions {
	return InputOptions{TrainFile: lockedTrainFile(t), StateDir: state,
		Sets: []string{"domain=docs.example.org", "adminEmail=admin@example.org"}}
}

// hungAPIServer accepts connections and never answers: a remote that hangs.
func hungAPIServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: hung, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: hung, context: {cluster: hung, user: u}}]
current-context: hung
`, l.Addr())
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// A second install waits for nothing and writes nothing: before the fix, the state lock was
// taken after the inputs had made the age key and the secret store.
func TestSecondInstallWritesNothingWhileTheFirstHoldsTheLock(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	unlock, err := lockState(state)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(false)
	in := &Install{Inputs: lockedInputs(t, state), Kubeconfig: "/nonexistent/kubeconfig", NonInteractive: true}
	err = in.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "another docs-appliance install is running") {
		t.Fatalf("got %v", err)
	}
	ents, _ := os.ReadDir(state)
	if len(ents) != 1 || ents[0].Name() != lockFileName {
		t.Fatalf("the second install wrote into the state folder: %v", ents)
	}
}

// A hung API server is a deadline error naming the step and what it waited on, not a hang;
// and the steps the run reports are the plan's steps, in the plan's order.
func TestHungAPIServerFailsTheStepByItsDeadlineAndThePlanMatchesTheRun(t *testing.T) {
	kc := hungAPIServer(t)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dry := &Install{Inputs: lockedInputs(t, state), Kubeconfig: kc, DryRun: true, OutDir: filepath.Join(t.TempDir(), "out")}
	if err := dry.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, s := range dry.Plan.Steps {
		planned = append(planned, s.ID)
	}

	in := &Install{Inputs: lockedInputs(t, state), Kubeconfig: kc, NonInteractive: true,
		Deadlines: map[string]time.Duration{"cluster": 2 * time.Second}}
	start := time.Now()
	err := in.Run(ctx, status.Discard())
	var de *steps.DeadlineError
	if !errors.As(err, &de) || de.Step != "cluster" || !strings.Contains(err.Error(), kc) {
		t.Fatalf("want a deadline error of step cluster naming %s, got %v", kc, err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the run took %s: the deadline did not hold", took)
	}
	var ran []string
	for _, r := range in.Result.Steps {
		ran = append(ran, r.ID)
	}
	if !slices.Equal(planned, ran) {
		t.Errorf("plan steps %v\nrun steps  %v", planned, ran)
	}
	outcomes := map[string]steps.Outcome{}
	for _, r := range in.Result.Steps {
		outcomes[r.ID] = r.Outcome
	}
	if outcomes["answers"] != steps.Skipped || outcomes["inputs"] != steps.Ran || outcomes["cluster"] != steps.Failed || outcomes["converge"] != steps.NotReached {
		t.Errorf("outcomes %v", outcomes)
	}
}

// Profile ha spreads PostgreSQL one instance per server: on the one server install provisions
// it never converges, so it is refused before anything is written, and the plan says why.
func TestProfileHARefusedOnOneServer(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	o := lockedInputs(t, state)
	// Locked for a host install too: the k3s artifacts carry their sums.
	sum := strings.Repeat("ab", 32)
	host := strings.Replace(lockedTrain, "airgapImagesURL: https://example.invalid/images.tar.zst}",
		"airgapImagesURL: https://example.invalid/images.tar.zst, binarySHA256: "+sum+", airgapImagesSHA256: "+sum+"}", 1)
	if err := os.WriteFile(o.TrainFile, []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Sets = append(o.Sets, "profile=ha")
	in := &Install{Inputs: o, NonInteractive: true}
	err := in.Run(context.Background(), status.Discard())
	var te *TopologyError
	if !errors.As(err, &te) || te.Want != 3 {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Error("the refused install left the state folder behind")
	}
	dry := &Install{Inputs: o, DryRun: true, OutDir: filepath.Join(t.TempDir(), "out"), PreflightPorts: []int{}}
	if err := dry.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(dry.Plan.Blockers, "\n"), "profile ha needs 3 Ready servers") {
		t.Errorf("blockers: %v", dry.Plan.Blockers)
	}
}
