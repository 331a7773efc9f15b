package release

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Set at link time: -X github.com/suitenumerique/docs-appliance/installer/release.Version=...
var (
	Version = "dev"
	Commit  = "unknown"
)

// Info is what `version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// BundleKeyID names the release key bundles are checked against by
	// default; "" in a development build.
	BundleKeyID string      `json:"bundleKeyID"`
	Trains      []TrainInfo `json:"trains"`
}

// TrainInfo summarises one embedded train.
type TrainInfo struct {
	Name          string   `json:"name"`
	Docs          string   `json:"docs"`
	K3s           string   `json:"k3s"`
	Flux          string   `json:"flux"`
	Locked        bool     `json:"locked"`
	Unpinned      int      `json:"unpinned"`
	Charts        int      `json:"charts"`
	ChartsCarried int      `json:"chartsCarried"`
	Images        int      `json:"images"`
	UpgradesFrom  []string `json:"upgradesFrom"`
	RequiredStops []string `json:"requiredStops"`
	// Description says what the train brings.
	Description string `json:"description,omitempty"`
	// Hops are the upgrades into this train, one per upgradesFrom.
	Hops []HopInfo `json:"hops"`
}

// HopInfo is one edge of the upgrade graph: what the upgrade from From into
// the train cannot undo.
type HopInfo struct {
	From string `json:"from"`
	// Known is false for a train this binary does not carry (an appliance
	// on it upgrades with the binary of a train between).
	Known        bool                   `json:"known"`
	Irreversible []bundles.Irreversible `json:"irreversible"`
}

// Describe gathers the build's facts and its embedded trains.
func Describe() (*Info, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, fmt.Errorf("loading embedded trains: %w", err)
	}
	info := &Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, BundleKeyID: bundleKeyID()}
	info.Trains = Trains(cat, bundles.EmbeddedStore())
	return info, nil
}

// Trains summarises every train of the catalog, oldest first, with the
// edges of the upgrade graph into each; store tells which charts are carried.
func Trains(cat *bundles.Catalog, store bundles.ChartStore) []TrainInfo {
	out := []TrainInfo{}
	for _, name := range cat.Names() {
		t, _ := cat.Get(name)
		carried := 0
		for _, c := range t.Charts {
			if store.Has(c) {
				carried++
			}
		}
		out = append(out, TrainInfo{
			Name: t.Name, Docs: t.Docs.Version, K3s: t.K3s.Version, Flux: t.Flux.Version,
			Locked: t.Locked(), Unpinned: len(t.Unlocked()),
			Charts: len(t.Charts), ChartsCarried: carried, Images: len(t.Images),
			UpgradesFrom: nonNil(t.UpgradesFrom), RequiredStops: nonNil(t.RequiredStops),
			Description: t.Description, Hops: hops(cat, t),
		})
	}
	return out
}

// hops lists the edges into t; for a train the binary does not carry only
// the train's own declaration is known.
func hops(cat *bundles.Catalog, t *bundles.Train) []HopInfo {
	out := []HopInfo{}
	for _, f := range t.UpgradesFrom {
		h := HopInfo{From: f, Irreversible: append([]bundles.Irreversible{}, t.Irreversible...)}
		if from, err := cat.Get(f); err == nil {
			h.Known, h.Irreversible = true, append([]bundles.Irreversible{}, bundles.HopIrreversible(from, t)...)
		}
		out = append(out, h)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Text renders Info for people.
func (i *Info) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docs-appliance %s (commit %s, %s, %s)\n", i.Version, i.Commit, i.GoVersion, i.Platform)
	switch i.BundleKeyID {
	case "":
		b.WriteString("bundle signing key: none built in (development build): bundles need --key/--bundle-key, or --insecure-skip-bundle-verify\n")
	case "malformed":
		b.WriteString("bundle signing key: the release key built in is malformed: rebuild with make build BUNDLE_PUBKEY_FILE=<the release's .pub file>\n")
	default:
		fmt.Fprintf(&b, "bundle signing key: %s (release key, checked by default)\n", i.BundleKeyID)
	}
	b.WriteString(i.TrainsText())
	return b.String()
}

// TrainsText renders the trains and the upgrade graph for people.
func (i *Info) TrainsText() string {
	var b strings.Builder
	b.WriteString("release trains:\n")
	for _, t := range i.Trains {
		lock := "locked"
		if !t.Locked {
			lock = fmt.Sprintf("unlocked: %d digests missing, run make lock", t.Unpinned)
		}
		fmt.Fprintf(&b, "  %s  Docs %s, k3s %s, Flux %s; %d charts (%d carried by this binary), %d images; %s\n",
			t.Name, t.Docs, t.K3s, t.Flux, t.Charts, t.ChartsCarried, t.Images, lock)
		if t.Description != "" {
			fmt.Fprintf(&b, "    %s\n", t.Description)
		}
		if len(t.UpgradesFrom) > 0 {
			fmt.Fprintf(&b, "    upgrades from: %s\n", strings.Join(t.UpgradesFrom, ", "))
		} else {
			b.WriteString("    upgrades from: (fresh installs only)\n")
		}
		if len(t.RequiredStops) > 0 {
			fmt.Fprintf(&b, "    required stops: %s\n", strings.Join(t.RequiredStops, ", "))
		}
		for _, h := range t.Hops {
			known := ""
			if !h.Known {
				known = " (a train this binary does not carry)"
			}
			if len(h.Irreversible) == 0 {
				fmt.Fprintf(&b, "    %s → %s%s: nothing irreversible; a failed hop rolls back (git revert)\n", h.From, t.Name, known)
				continue
			}
			fmt.Fprintf(&b, "    %s → %s%s: cannot be undone, the way back is a restore:\n", h.From, t.Name, known)
			for _, ir := range h.Irreversible {
				fmt.Fprintf(&b, "      - %s: %s\n", ir.Component, ir.Reason)
			}
		}
	}
	return b.String()
}
