package steps

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

func TestRunSkipsFinishedStepsAndStopsAtTheFirstFailure(t *testing.T) {
	var ran []string
	mk := func(id, done string, fail error) Step {
		return &Func{Name: id, Describe: "doing " + id, Deadline: time.Second,
			CheckFunc: func(context.Context) (string, error) { return done, nil },
			RunFunc: func(context.Context, *status.Status) error {
				ran = append(ran, id)
				return fail
			}}
	}
	boom := errors.New("boom")
	list := []Step{mk("a", "", nil), mk("b", "already there", nil), mk("c", "", boom), mk("d", "", nil)}
	var out bytes.Buffer
	res, err := Run(context.Background(), status.New(&out, status.Plain), list)
	var se *Error
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.Step != "c" {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(ran, ",") != "a,c" {
		t.Errorf("ran %v", ran)
	}
	want := []Outcome{Ran, Skipped, Failed, NotReached}
	for n, r := range res {
		if r.Outcome != want[n] || r.ID != list[n].ID() {
			t.Errorf("result %d = %+v, want %s", n, r, want[n])
		}
	}
	if res[1].Why != "already there" || !strings.Contains(out.String(), "◎ doing b: already there") {
		t.Errorf("the skip does not say why: %+v\n%s", res[1], out.String())
	}
	var ids []string
	for _, p := range Plan(list) {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "a,b,c,d" {
		t.Errorf("plan %v", ids)
	}
}

func TestDeadlineNamesTheStepAndWhatItWaitedOn(t *testing.T) {
	hang := &Func{Name: "clone", Describe: "cloning", Deadline: 50 * time.Millisecond, Remote: "git remote https://git.example.org/r.git",
		RunFunc: func(ctx context.Context, _ *status.Status) error {
			<-ctx.Done()
			return ctx.Err()
		}}
	_, err := Run(context.Background(), status.Discard(), []Step{hang})
	var de *DeadlineError
	if !errors.As(err, &de) || de.Step != "clone" || !strings.Contains(err.Error(), "https://git.example.org/r.git") {
		t.Fatalf("err = %v", err)
	}
	// WithDeadlines overrides it and keeps what the step waits on.
	over := WithDeadlines([]Step{hang}, map[string]time.Duration{"clone": 10 * time.Millisecond})
	if over[0].Timeout() != 10*time.Millisecond {
		t.Errorf("deadline %s", over[0].Timeout())
	}
	_, err = Run(context.Background(), status.Discard(), over)
	if !errors.As(err, &de) || de.Timeout != 10*time.Millisecond || de.Waits == "" {
		t.Fatalf("err = %v", err)
	}
}

func TestInterruptedRunSaysHowToResume(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	list := []Step{
		&Func{Name: "a", Describe: "a", Deadline: time.Minute, RunFunc: func(ctx context.Context, _ *status.Status) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}},
		&Func{Name: "b", Describe: "b", Deadline: time.Minute, RunFunc: func(context.Context, *status.Status) error { return nil }},
	}
	res, err := Run(ctx, status.Discard(), list)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Step != "a" || !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("err = %v", err)
	}
	if res[1].Outcome != NotReached {
		t.Errorf("b = %+v", res[1])
	}
}

func TestCheckErrorFailsTheStepWithoutRunningIt(t *testing.T) {
	ran := false
	s := &Func{Name: "a", Describe: "a", Deadline: time.Second,
		CheckFunc: func(context.Context) (string, error) { return "", errors.New("cannot read") },
		RunFunc:   func(context.Context, *status.Status) error { ran = true; return nil }}
	_, err := Run(context.Background(), status.Discard(), []Step{s})
	if err == nil || ran || !strings.Contains(err.Error(), "checking what is left to do: cannot read") {
		t.Fatalf("err = %v, ran = %v", err, ran)
	}
}
