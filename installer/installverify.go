package installer

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// userPath is install's last step: doctor's user-path checks, the way a
// user's browser reaches the appliance. What does not pass is reported
// with its fix and kept in the result; it does not fail the install,
// whose every layer is Ready by now: the usual cause is outside the
// appliance (DNS not pointed here yet, a firewall), and a rerun after the
// fix, or doctor, checks again.
func (r *run) userPath(ctx context.Context, st *status.Status) error {
	// Doctor's own progress lines would interleave with this step's: the
	// step reports the findings itself.
	quiet := status.New(io.Discard, status.Plain)
	d := &Doctor{StateDir: r.i.Inputs.StateDir, TrainFile: r.i.Inputs.TrainFile, Kubeconfig: r.kubeconfig,
		Root: r.i.root(), Runner: r.i.runner(), Groups: []string{"user-path"}, Nameserver: r.i.Nameserver, CAFiles: r.i.CAFiles}
	if err := d.Run(ctx, quiet); err != nil {
		return err
	}
	// Right after convergence the edge may still be loading what Flux just
	// applied (a new certificate, a rolled pod): while the domains resolve
	// here but something behind them fails, look again for a while.
	deadline := time.Now().Add(userPathSettle)
	for settling(d.Report) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
		if err := d.Run(ctx, quiet); err != nil {
			return err
		}
	}
	r.userPathReport = d.Report
	for _, res := range d.Report.Results {
		if res.Outcome == doctor.Failed || res.Outcome == doctor.Warned {
			st.Warn("%s: %s (fix: %s)", res.ID, oneLine(res.Detail), oneLine(res.Fix))
		}
	}
	if ids := d.Report.IDs(doctor.Failed); len(ids) > 0 {
		st.Warn("users cannot reach the appliance yet (%s): fix the above, then run docs-appliance doctor", strings.Join(ids, ", "))
	}
	return nil
}

// userPathSettle bounds the wait for the edge to settle after convergence.
const userPathSettle = 90 * time.Second

// settling: the domains lead here (DNS passed), yet a check behind them
// failed: worth another look, unlike DNS that is not pointed here yet.
func settling(rep *doctor.Report) bool {
	dns, ok := rep.Get(doctor.UserPathDNS)
	return ok && dns.Outcome == doctor.Passed && rep.Summary.Failed > 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
