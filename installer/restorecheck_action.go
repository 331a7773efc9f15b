package installer

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// DefaultRestoreCheckTimeout bounds `restore-check now`: the CronJob's
// Job has a 3h deadline, the recovery alone 90 minutes.
const DefaultRestoreCheckTimeout = 3 * time.Hour

// RestoreCheck is `restore-check now`: the appliance's restore check, run
// and waited for, its result recorded where doctor reads it.
type RestoreCheck struct {
	// StateDir is the appliance's state folder (host path).
	StateDir string
	// Kubeconfig: the appliance runs on this existing cluster. Empty: k3s
	// on this host.
	Kubeconfig string
	Root       host.Root
	// Timeout bounds the wait (DefaultRestoreCheckTimeout when zero).
	Timeout time.Duration
	// DryRun describes the steps and runs nothing.
	DryRun bool

	// Report is filled by Run.
	Report *RestoreCheckReport

	kube *cluster.Client
}

// RestoreCheckReport is what `restore-check now` prints.
type RestoreCheckReport struct {
	// Plan is the dry run's description of the steps.
	Plan []steps.Planned `json:"plan,omitempty"`
	// Steps is what ran.
	Steps []steps.Result `json:"steps,omitempty"`
	// Result is what the check recorded (also when it failed).
	Result *restorecheck.Result `json:"result,omitempty"`
}

// Run runs the check, or describes it. A check that ran and failed is an
// error wrapping *restorecheck.FailedError, with Report.Result filled.
func (r *RestoreCheck) Run(ctx context.Context, st *status.Status) error {
	r.Report = &RestoreCheckReport{}
	if _, err := os.Stat(SavedConfigPath(r.StateDir)); err != nil {
		return &NoApplianceError{StateDir: r.StateDir}
	}
	list := r.steps()
	if r.DryRun {
		r.Report.Plan = steps.Plan(list)
		return nil
	}
	res, err := steps.Run(ctx, st, list)
	r.Report.Steps = res
	return err
}

func (r *RestoreCheck) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultRestoreCheckTimeout
}

func (r *RestoreCheck) steps() []steps.Step {
	return []steps.Step{
		&steps.Func{
			Name: "connect", Describe: "Connecting to the appliance's cluster", Deadline: 30 * time.Second, Remote: "the Kubernetes API server",
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				kubeconfig := r.Kubeconfig
				if kubeconfig == "" {
					root := r.Root
					if root == "" {
						root = "/"
					}
					var err error
					if kubeconfig, err = k3s.FindKubeconfig(root, root.HostPath(r.StateDir)); err != nil {
						return err
					}
				}
				c, err := reachCluster(ctx, kubeconfig)
				r.kube = c
				return err
			},
		},
		&steps.Func{
			Name: "restore-check",
			Describe: fmt.Sprintf("Recovering a throwaway database from the newest backup and checking it against the live one (CronJob %s/%s; at most %s)",
				render.DatabaseNamespace, render.RestoreCheckCronJob, r.timeout()),
			Deadline: r.timeout() + time.Minute, Remote: "the restore-check Job",
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				res, err := restorecheck.Run(ctx, r.kube.Kube, r.timeout())
				r.Report.Result = res
				return err
			},
		},
	}
}

// Text is the report for a terminal.
func (rep *RestoreCheckReport) Text() string {
	var b strings.Builder
	if len(rep.Plan) > 0 {
		b.WriteString("restore-check now would:\n")
		for _, p := range rep.Plan {
			fmt.Fprintf(&b, "  %-14s %s\n", p.ID, p.Title)
		}
		return b.String()
	}
	res := rep.Result
	if res == nil {
		return ""
	}
	fmt.Fprintf(&b, "Restore check %s: %s\n", res.Status, res.Message)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-16s %s\n", k, v)
		}
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	line("backup", strings.TrimSpace(res.Backup+" "+at(res.BackupStoppedAt)))
	if res.RTO > 0 {
		line("RTO", res.RTO.String()+" (throwaway cluster created to checks done)")
	}
	if res.RPO > 0 || !res.LastArchivedAt.IsZero() {
		line("RPO", fmt.Sprintf("%s (age of the newest archived WAL at the start, %s)", res.RPO, at(res.LastArchivedAt)))
	}
	line("recovered to", at(res.RecoveredTo))
	for _, k := range []string{"users", "documents", "accesses", "migrations"} {
		if n, ok := res.Counts[k]; ok {
			line(k, fmt.Sprintf("%d restored, %d live", n, res.Counts["live"+strings.ToUpper(k[:1])+k[1:]]))
		}
	}
	line("job", res.Job)
	return b.String()
}
