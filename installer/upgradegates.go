package installer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

// Gate IDs of the upgrade plan.
const (
	GateLocked  = "trains-locked"
	GateDoctor  = "doctor"
	GateDisk    = "disk"
	GateBackup  = "backup"
	diskFactor  = 2
	maxCheckAge = 26 * time.Hour
)

// gates checks, read-only, what upgrade checks before the first hop.
func (u *UpgradePlan) gates(ctx context.Context, st *status.Status, in *Inputs, p *upgrade.Plan) []upgrade.Gate {
	gates := []upgrade.Gate{u.lockedGate(in, p)}
	c, reachErr := u.cluster(ctx)
	gates = append(gates, u.doctorGate(ctx, st, c, reachErr), u.diskGate(p))
	if reachErr != nil {
		return append(gates, upgrade.Gate{ID: GateBackup, Outcome: upgrade.NotChecked,
			Message: "cluster unreachable: the restore check's result is in the cluster", Fix: "run the plan where the cluster answers"})
	}
	return append(gates, backupGate(readRestoreCheck(ctx, c.Kube)))
}

// lockedGate: upgrade installs only locked trains, as install does.
func (u *UpgradePlan) lockedGate(in *Inputs, p *upgrade.Plan) upgrade.Gate {
	var unlocked []string
	for _, h := range p.Hops {
		t, _ := in.Catalog.Get(h.To)
		if missing := unpinned(t, u.Kubeconfig != ""); len(missing) > 0 {
			unlocked = append(unlocked, fmt.Sprintf("%s (%d digests missing)", t.Name, len(missing)))
		}
	}
	if len(unlocked) > 0 {
		return upgrade.Gate{ID: GateLocked, Outcome: upgrade.Fail, Message: "not locked: " + strings.Join(unlocked, ", "),
			Fix: "run `make lock` on a connected machine, or upgrade from the train's bundle (--bundle)"}
	}
	return upgrade.Gate{ID: GateLocked, Outcome: upgrade.Pass, Message: "every train of the path pins its artifacts by digest"}
}

// cluster reaches the appliance's API server, or says why not.
func (u *UpgradePlan) cluster(ctx context.Context) (*cluster.Client, error) {
	kubeconfig := u.Kubeconfig
	if kubeconfig == "" {
		var err error
		r := u.root()
		if kubeconfig, err = k3s.FindKubeconfig(r, r.HostPath(u.StateDir)); err != nil {
			return nil, err
		}
	}
	return reachCluster(ctx, kubeconfig)
}

// doctorGate runs the doctor's checks (read-only) when the cluster answers:
// upgrade starts only when none fails.
func (u *UpgradePlan) doctorGate(ctx context.Context, st *status.Status, c *cluster.Client, reachErr error) upgrade.Gate {
	d := &Doctor{StateDir: u.StateDir, Kubeconfig: u.Kubeconfig, Root: u.root(), Runner: u.Runner, Trains: u.trains}
	return doctorGate(ctx, st, d, reachErr, u.IgnoreChecks)
}

// doctorGate runs d; a failure of a check in ignore is reported, not counted.
func doctorGate(ctx context.Context, st *status.Status, d *Doctor, reachErr error, ignore []string) upgrade.Gate {
	g := upgrade.Gate{ID: GateDoctor, Fix: "run docs-appliance doctor and apply the fix under each failure"}
	if reachErr != nil {
		g.Outcome, g.Message = upgrade.NotChecked, "cluster unreachable: "+reachErr.Error()
		g.Fix = "run the plan where the cluster answers (doctor's checks need it)"
		return g
	}
	if err := d.Run(ctx, st); err != nil {
		g.Outcome, g.Message = upgrade.Fail, "doctor could not run: "+err.Error()
		return g
	}
	failed, ignored := splitIgnored(d.Report.IDs(doctor.Failed), ignore)
	note := ""
	if len(ignored) > 0 {
		note = fmt.Sprintf("; ignored (--ignore-check): %s", strings.Join(ignored, ", "))
	}
	if len(failed) > 0 {
		g.Outcome, g.Message = upgrade.Fail, fmt.Sprintf("%d check(s) fail: %s%s", len(failed), strings.Join(failed, ", "), note)
		return g
	}
	g.Outcome, g.Message = upgrade.Pass, fmt.Sprintf("no check fails (%d run)%s", len(d.Report.Results), note)
	return g
}

// splitIgnored parts failed check IDs into those that count and those the operator ignores.
func splitIgnored(failed, ignore []string) (counted, ignored []string) {
	for _, id := range failed {
		if slices.Contains(ignore, id) {
			ignored = append(ignored, id)
		} else {
			counted = append(counted, id)
		}
	}
	return counted, ignored
}

// diskGate: the path's new images land in k3s's images folder and again
// unpacked in containerd's store, so the filesystem of k3s's data folder
// needs twice their compressed size free. The sizes come from the train
// (images[].size); a new image without one leaves the gate unchecked.
func (u *UpgradePlan) diskGate(p *upgrade.Plan) upgrade.Gate {
	g := upgrade.Gate{ID: GateDisk}
	ni := p.TotalNewImages()
	if ni.Count == 0 {
		g.Outcome, g.Message = upgrade.Pass, "the path brings no new image"
		return g
	}
	need := uint64(ni.Bytes) * diskFactor
	if len(ni.WithoutSize) > 0 {
		g.Outcome = upgrade.NotChecked
		g.Message = fmt.Sprintf("%d of the path's %d new images have no recorded size (the trains record none): the disk they need is unknown", len(ni.WithoutSize), ni.Count)
		g.Fix = "upgrade checks the bundle's images against the free space before importing them; keep the images' size free twice over in " + k3s.DataDir
		return g
	}
	if u.Kubeconfig != "" {
		g.Outcome = upgrade.NotChecked
		g.Message = fmt.Sprintf("the cluster's nodes are not this host: each needs %s free for the path's %d new images", mib(need), ni.Count)
		return g
	}
	measure := u.FreeSpace
	if measure == nil {
		measure = u.root().FreeSpace
	}
	space, err := measure(k3s.DataDir)
	if err != nil {
		g.Outcome, g.Message = upgrade.NotChecked, err.Error()
		return g
	}
	msg := fmt.Sprintf("%d new images, %s; %s needed (twice: the archive and containerd's copy), %s free at %s", ni.Count, mib(uint64(ni.Bytes)), mib(need), mib(space.Free), space.Measured)
	if space.Free < need {
		g.Outcome, g.Message = upgrade.Fail, msg
		g.Fix = fmt.Sprintf("free %s on the filesystem of %s", mib(need-space.Free), k3s.DataDir)
		return g
	}
	g.Outcome, g.Message = upgrade.Pass, msg
	return g
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// lastRestoreCheck is the last restore check's result as the cluster records it (nil, nil when
// none has run).
type lastRestoreCheck struct {
	r   *restorecheck.Result
	err error
}

func readRestoreCheck(ctx context.Context, kube kubernetes.Interface) lastRestoreCheck {
	r, err := restorecheck.Read(ctx, kube)
	if errors.Is(err, restorecheck.ErrNoResult) {
		return lastRestoreCheck{}
	}
	return lastRestoreCheck{r: r, err: err}
}

var now = time.Now

// backupGate: upgrade takes a fresh backup and runs a restore check before
// each hop; the plan shows where the last ones stand.
func backupGate(last lastRestoreCheck) upgrade.Gate {
	g := upgrade.Gate{ID: GateBackup, Fix: "run docs-appliance restore-check now, read its message, and fix the backups first"}
	r := last.r
	switch {
	case last.err != nil:
		g.Outcome, g.Message = upgrade.NotChecked, last.err.Error()
		return g
	case r == nil:
		g.Outcome, g.Message = upgrade.Warn, "no restore check has recorded a result yet: upgrade takes a backup and restore-checks it before the first hop"
		return g
	}
	age := func(t time.Time) string {
		if t.IsZero() {
			return "at an unrecorded time"
		}
		return now().Sub(t).Round(time.Minute).String() + " ago"
	}
	msg := fmt.Sprintf("restore check %s %s, of backup %s taken %s", r.Status, age(r.FinishedAt), orUnknown(r.Backup), age(r.BackupStoppedAt))
	switch {
	case r.Status != restorecheck.Passed:
		g.Outcome, g.Message = upgrade.Fail, msg+": "+r.Message
	case r.FinishedAt.IsZero() || now().Sub(r.FinishedAt) > maxCheckAge:
		g.Outcome, g.Message = upgrade.Warn, msg+": older than a day; upgrade runs a fresh one first"
	default:
		g.Outcome, g.Message = upgrade.Pass, msg+"; upgrade takes a fresh backup and checks it before the first hop"
	}
	return g
}

func orUnknown(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}
