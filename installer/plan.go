package installer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Plan is what an install would do, shown by `install --dry-run`.
type Plan struct {
	Domain string `json:"domain"`
	// Environment is the config's: the render writes environments/<env>/ and clusters/<env>/
	// over the shared base, and Flux syncs clusters/<env>.
	Environment string   `json:"environment"`
	Train       string   `json:"train"`
	Docs        string   `json:"docs"`
	K3s         string   `json:"k3s"`
	Flux        string   `json:"flux"`
	Profile     string   `json:"profile"`
	Locked      bool     `json:"locked"`
	Unpinned    []string `json:"unpinned,omitempty"`
	// Steps are the install's steps, from the same list a real install runs.
	Steps      []steps.Planned    `json:"steps"`
	Components []render.Component `json:"components"`
	Layers     []render.Layer     `json:"layers"`
	Images     []PlanImage        `json:"images"`
	// UnlistedImages are used by rendered objects but not pinned by the train.
	UnlistedImages []string `json:"unlistedImages,omitempty"`
	MissingCharts  []string `json:"missingCharts,omitempty"`
	Secrets        []string `json:"secrets"`
	// Defaults are the fields the config's defaults filled, and from what.
	Defaults []config.FilledDefault `json:"defaults,omitempty"`
	OutDir   string                 `json:"outDir"`
	Files    int                    `json:"files"`
	// Preflight is the host checks' report (absent for an existing cluster).
	Preflight *preflight.Report `json:"preflight,omitempty"`
	// Blockers would stop a real install.
	Blockers []string `json:"blockers,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// PlanImage is one image the appliance runs.
type PlanImage struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest,omitempty"`
}

// newPlan describes an install of the rendered inputs.
func newPlan(in *Inputs, res *render.Result, outDir string, existingCluster bool, list []steps.Planned) *Plan {
	cfg, t := in.Config, in.Train
	p := &Plan{
		Domain: cfg.Domain, Environment: res.Environment, Train: t.Name, Docs: t.Docs.Version, K3s: t.K3s.Version, Flux: t.Flux.Version,
		Profile: in.Profile.Name, Locked: t.Locked(), Unpinned: t.Unlocked(),
		Components: res.Components, Layers: res.Layers, UnlistedImages: res.Unpinned,
		Secrets: in.Store.Names(), OutDir: outDir, Files: len(res.Files), Steps: list,
		Defaults: cfg.Defaulted(),
	}
	for _, im := range t.Images {
		p.Images = append(p.Images, PlanImage{Reference: im.Reference, Digest: im.Digest})
	}
	for _, m := range res.Missing {
		p.MissingCharts = append(p.MissingCharts, m.Error())
	}
	if missing := unpinned(t, existingCluster); len(missing) > 0 {
		p.Blockers = append(p.Blockers, fmt.Sprintf("train %s is unlocked (%d digests missing): run `make lock` on a connected machine", t.Name, len(missing)))
	}
	if !existingCluster {
		if err := checkTopology(context.Background(), in.Profile, nil); err != nil {
			p.Blockers = append(p.Blockers, err.Error())
		}
	}
	if _, err := gitops.FluxManifests(t.Flux.Version); err != nil {
		p.Blockers = append(p.Blockers, err.Error())
	}
	if _, ok := t.ImageFor(gitops.GitImageRepository); !ok && cfg.Git.Mode == config.GitInCluster {
		p.Blockers = append(p.Blockers, fmt.Sprintf("train %s pins no in-cluster git server image (%s)", t.Name, gitops.GitImageRepository))
	}
	if len(res.Missing) > 0 {
		p.Blockers = append(p.Blockers, fmt.Sprintf("%d charts are not carried by this build: run `make charts` on a connected machine, pass --charts DIR, or use --bundle FILE", len(res.Missing)))
	}
	p.Warnings = append(p.Warnings, in.Warnings...)
	if in.Store.Ephemeral() {
		p.Warnings = append(p.Warnings, "no state folder yet: secrets in this dry run were generated in memory and are not kept")
	}
	// A real install's render refuses them: an air-gapped node cannot pull them, and an online
	// one would run what no train pinned.
	for _, u := range res.UnpinnedImages {
		p.Blockers = append(p.Blockers, u.String())
	}
	return p
}

func (p *Plan) addPreflight(rep *preflight.Report) {
	p.Preflight = rep
	if ids := rep.FailedIDs(); len(ids) > 0 {
		p.Blockers = append(p.Blockers, fmt.Sprintf("host preflight failed: %s (see the fixes above, or skip a check knowingly with --ignore-preflight=ID)", strings.Join(ids, ", ")))
	}
}

// WriteText prints the plan for people.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nPlan: Docs %s at https://%s — environment %s, train %s (k3s %s, Flux %s), profile %s\n\n", p.Docs, p.Domain, p.Environment, p.Train, p.K3s, p.Flux, p.Profile)
	b.WriteString("Steps:\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "  %2d. %-15s %s\n", i+1, s.ID, s.Title)
	}
	b.WriteString("\nComponents:\n")
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LAYER\tCOMPONENT\tCHART\tVERSION\tNAMESPACE\tOBJECTS")
	for _, c := range p.Components {
		objs := fmt.Sprintf("%d (+%d CRDs)", c.Objects, c.CRDs)
		if c.Missing != "" {
			objs = "chart not in this build (see below)"
		}
		chart := c.Chart
		if chart == "" {
			chart = "(appliance)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Layer, c.Name, chart, c.Version, c.Namespace, objs)
	}
	tw.Flush()
	b.WriteString("\nFlux Kustomizations (each waits for its objects to be ready):\n")
	for _, l := range p.Layers {
		after := ""
		if len(l.DependsOn) > 0 {
			after = " after " + strings.Join(l.DependsOn, ", ")
		}
		dec := ""
		if l.Decrypt {
			dec = ", decrypts SOPS"
		}
		fmt.Fprintf(&b, "  %-14s ./%s%s%s\n", l.Name, l.Path, after, dec)
	}
	fmt.Fprintf(&b, "\nImages (%d, pinned by digest):\n", len(p.Images))
	for _, im := range p.Images {
		d := im.Digest
		if d == "" {
			d = "digest not locked yet"
		}
		fmt.Fprintf(&b, "  %s  %s\n", im.Reference, d)
	}
	for _, u := range p.UnlistedImages {
		fmt.Fprintf(&b, "  ⚠ %s is used but not pinned by the train\n", u)
	}
	if len(p.Defaults) > 0 {
		b.WriteString("\nFilled by defaults (set them in the config to change them):\n")
		for _, d := range p.Defaults {
			fmt.Fprintf(&b, "  %s = %s (%s)\n", d.Path, d.Value, d.From)
		}
	}
	fmt.Fprintf(&b, "\nSecrets: %d, SOPS-encrypted in the repository (values never shown): %s\n", len(p.Secrets), strings.Join(p.Secrets, ", "))
	if len(p.MissingCharts) > 0 {
		b.WriteString("\nCharts this build does not carry:\n")
		for _, m := range p.MissingCharts {
			fmt.Fprintf(&b, "  - %s\n", m)
		}
	}
	if p.Preflight != nil {
		b.WriteString("\n")
		b.WriteString(p.Preflight.Text())
	}
	fmt.Fprintf(&b, "\nRendered repository: %s (%d files)\n", p.OutDir, p.Files)
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "⚠ %s\n", w)
	}
	if len(p.Blockers) > 0 {
		b.WriteString("\nA real install would stop here:\n")
		for _, bl := range p.Blockers {
			fmt.Fprintf(&b, "  ✗ %s\n", bl)
		}
	} else {
		b.WriteString("\nNothing blocks an install.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
