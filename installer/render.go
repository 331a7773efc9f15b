package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Render writes the desired-state repository for a config to a folder.
type Render struct {
	Inputs InputOptions
	// OutDir receives the repository; only changed files are written.
	OutDir string
	// AllowMissingCharts renders without the charts this build lacks,
	// listing them instead of failing.
	AllowMissingCharts bool
	// CollectUnpinned lists the uses of images the train does not pin instead of failing
	// (the dry run shows them as blockers).
	CollectUnpinned bool

	// Result and Report are filled by Run.
	Result *render.Result
	Report *render.WriteReport
	In     *Inputs
}

// Run loads and validates the inputs, renders and writes the repository.
func (r *Render) Run(ctx context.Context, st *status.Status) error {
	if r.OutDir == "" {
		return fmt.Errorf("--out: give the folder to write the repository to")
	}
	if _, err := render.CheckDir(r.OutDir); err != nil {
		return err
	}
	st.Start("reading config and secrets")
	in, err := LoadInputs(r.Inputs)
	if st.End(err) != nil {
		return err
	}
	r.In = in
	for _, w := range in.Warnings {
		st.Warn("%s", w)
	}
	if in.Store.KeyCreated {
		st.Warn("created the appliance's age key at %s: back it up offline, it decrypts every secret", in.Store.KeyPath())
	}
	switch {
	case len(in.Generated) > 0 && in.Store.Ephemeral():
		st.Info("generated %d secrets in memory for this run only (nothing written to %s)", len(in.Generated), r.Inputs.StateDir)
	case len(in.Generated) > 0:
		st.Info("generated %d secrets, kept encrypted in %s", len(in.Generated), r.Inputs.StateDir)
	}
	if !in.Train.Locked() {
		st.Warn("train %s is unlocked (%d digests missing): render accepts it, install will refuse it until `make lock`", in.Train.Name, len(in.Train.Unlocked()))
	}
	st.Start(fmt.Sprintf("rendering train %s with profile %s", in.Train.Name, in.Profile.Name))
	res, err := render.Render(ctx, render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store,
		Recipients: in.Recipients(), AllowMissingCharts: r.AllowMissingCharts, CollectUnpinned: r.CollectUnpinned,
		Branding: in.Branding,
	})
	if st.End(err) != nil {
		return err
	}
	r.Result = res
	st.Start("writing " + r.OutDir)
	if err := render.ClaimDir(r.OutDir); err != nil {
		return st.End(err)
	}
	rep, err := render.Write(r.OutDir, res, in.Store.Identity(), in.Recipients())
	if st.End(err) != nil {
		return err
	}
	r.Report = rep
	if rep.Changed() {
		st.Info("%d files written, %d removed, %d unchanged", len(rep.Written), len(rep.Removed), rep.Unchanged)
	} else {
		st.Info("up to date: %d files unchanged", rep.Unchanged)
	}
	if rep.BaseChanged() && len(rep.SharedWith) > 0 {
		st.Warn("the shared base changed (%d files): environments %s build on it too and change with it when this is pushed",
			len(rep.Base), strings.Join(rep.SharedWith, ", "))
	}
	if len(res.Missing) > 0 {
		names := make([]string, len(res.Missing))
		for i, m := range res.Missing {
			names[i] = m.Chart.Name + " " + m.Chart.Version
		}
		st.Warn("%d charts are not carried by this build and were left out: %s (run `make charts` on a connected machine, pass --charts DIR, or use a bundle)", len(names), strings.Join(names, ", "))
	}
	return nil
}
