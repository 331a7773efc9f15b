package installer

import (
	"context"
	"strings"

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
	d := &Doctor{StateDir: r.i.Inputs.StateDir, TrainFile: r.i.Inputs.TrainFile, Kubeconfig: r.kubeconfig,
		Root: r.i.root(), Runner: r.i.runner(), Groups: []string{"user-path"}, Nameserver: r.i.Nameserver, CAFiles: r.i.CAFiles}
	if err := d.Run(ctx, st); err != nil {
		return err
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

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
