package upgrade

import (
	"fmt"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Plan is what `upgrade --plan` shows: the path from the installed train to
// the target, every hop, and the gates as they stand now.
type Plan struct {
	Environment string `json:"environment"`
	// From is the installed train, To the target; Path the trains the
	// upgrade passes through, To included (empty when up to date).
	From string   `json:"from"`
	To   string   `json:"to"`
	Path []string `json:"path"`
	Hops []Hop    `json:"hops"`
	// Gates are checked now, before the first hop; upgrade checks them
	// again before every hop.
	Gates []Gate `json:"gates"`
	// Diff says the hops carry each file's whole diff.
	Diff bool `json:"diff"`
}

// Hop is one upgrade from a train to the next on the path.
type Hop struct {
	From string `json:"from"`
	To   string `json:"to"`
	// RequiredStop: a later train of the path requires this one.
	RequiredStop    bool                   `json:"requiredStop,omitempty"`
	K3s             Change                 `json:"k3s"`
	Flux            Change                 `json:"flux"`
	FluxControllers []Change               `json:"fluxControllers"`
	Docs            Change                 `json:"docs"`
	Charts          []Change               `json:"charts"`
	Images          []Change               `json:"images"`
	NewImages       NewImages              `json:"newImages"`
	Components      []Component            `json:"components"`
	Files           []FileChange           `json:"files"`
	Irreversible    []bundles.Irreversible `json:"irreversible"`
	// NotRendered are the charts this build does not carry (name version):
	// left out of the renders, so what they change is not in Files.
	NotRendered []string `json:"notRendered,omitempty"`
}

// HopInput is what a hop is computed from: its two trains and the
// repository rendered with each (same config, secrets and recipients).
type HopInput struct {
	From, To      *bundles.Train
	Before, After []File
	RequiredStop  bool
	NotRendered   []string
}

// NewHop computes a hop; diff keeps each file's whole diff.
func NewHop(in HopInput, diff bool) Hop {
	h := Hop{From: in.From.Name, To: in.To.Name, RequiredStop: in.RequiredStop, NotRendered: uniqueSorted(in.NotRendered)}
	h.K3s, h.Flux, h.Docs, h.FluxControllers, h.Charts, h.Images = versionChanges(in.From, in.To)
	h.NewImages = newImages(in.From, in.To)
	h.Files = DiffFiles(in.Before, in.After)
	h.Components = Summarize(h.Files)
	if !diff {
		for i := range h.Files {
			h.Files[i].Diff = ""
		}
	}
	h.Irreversible = append([]bundles.Irreversible{}, bundles.HopIrreversible(in.From, in.To)...)
	return h
}

// Outcome of a gate.
type Outcome string

// Gate outcomes. NotChecked says why in the message (the cluster does not
// answer, a size is not recorded): the upgrade checks it before the hop.
const (
	Pass       Outcome = "pass"
	Fail       Outcome = "fail"
	Warn       Outcome = "warn"
	NotChecked Outcome = "not-checked"
)

// Gate is one condition upgrade checks before a hop.
type Gate struct {
	ID      string  `json:"id"`
	Outcome Outcome `json:"outcome"`
	Message string  `json:"message"`
	Fix     string  `json:"fix,omitempty"`
}

// Exit codes of a plan, as doctor's: a gate fails 3, only warned or not
// checked 4.
const (
	ExitGateFailed = 3
	ExitGateWarned = 4
)

// GatesError says the upgrade would stop at a gate (or cannot tell yet).
type GatesError struct {
	Failed, Unsure []string
}

func (e *GatesError) Error() string {
	if len(e.Failed) > 0 {
		return fmt.Sprintf("upgrade plan: %d gate(s) fail now: %s (the fix is under each)", len(e.Failed), strings.Join(e.Failed, ", "))
	}
	return fmt.Sprintf("upgrade plan: %d gate(s) warn or were not checked: %s", len(e.Unsure), strings.Join(e.Unsure, ", "))
}

// ExitCode is 3 when a gate fails, 4 when gates only warn or were not checked.
func (e *GatesError) ExitCode() int {
	if len(e.Failed) > 0 {
		return ExitGateFailed
	}
	return ExitGateWarned
}

// Err is nil when there is nothing to upgrade or every gate passes.
func (p *Plan) Err() error {
	if len(p.Hops) == 0 {
		return nil
	}
	e := &GatesError{}
	for _, g := range p.Gates {
		switch g.Outcome {
		case Fail:
			e.Failed = append(e.Failed, g.ID)
		case Warn, NotChecked:
			e.Unsure = append(e.Unsure, g.ID)
		}
	}
	if len(e.Failed)+len(e.Unsure) == 0 {
		return nil
	}
	return e
}

// TotalNewImages sums the new images of every hop (images stay on the node
// until k3s collects them, so the path's images add up).
func (p *Plan) TotalNewImages() NewImages {
	var t NewImages
	for _, h := range p.Hops {
		t.Count += h.NewImages.Count
		t.Bytes += h.NewImages.Bytes
		t.WithoutSize = append(t.WithoutSize, h.NewImages.WithoutSize...)
	}
	return t
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
