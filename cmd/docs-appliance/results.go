package main

import (
	"errors"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/reset"
)

// The result documents of the commands whose library result has no JSON
// shape of its own. Field names are camelCase, as in every other document.

func (a *App) installResult(in *installer.Install) error {
	switch {
	case in.Plan != nil:
		var b strings.Builder
		if err := in.Plan.WriteText(&b); err != nil {
			return err
		}
		return a.result(in.Plan, b.String())
	case in.Result != nil:
		return a.result(in.Result, "")
	}
	return errors.New("install finished without a plan or a result")
}

type renderResult struct {
	OutDir        string   `json:"outDir"`
	Environment   string   `json:"environment"`
	Train         string   `json:"train"`
	Profile       string   `json:"profile"`
	Files         int      `json:"files"`
	Written       []string `json:"written"`
	Removed       []string `json:"removed"`
	Unchanged     int      `json:"unchanged"`
	MissingCharts []string `json:"missingCharts,omitempty"`
	// Base lists the shared base's files the render changed; SharedWith the other
	// environments of the repository, which change with them.
	Base       []string `json:"base,omitempty"`
	SharedWith []string `json:"sharedWith,omitempty"`
}

func (a *App) renderResult(r *installer.Render) error {
	doc := renderResult{
		OutDir: r.OutDir, Train: r.In.Train.Name, Profile: r.In.Profile.Name, Files: len(r.Result.Files),
		Written: nonNil(r.Report.Written), Removed: nonNil(r.Report.Removed), Unchanged: r.Report.Unchanged,
		Environment: r.Result.Environment, Base: r.Report.Base, SharedWith: r.Report.SharedWith,
	}
	for _, m := range r.Result.Missing {
		doc.MissingCharts = append(doc.MissingCharts, m.Chart.Name+" "+m.Chart.Version)
	}
	return a.result(doc, "")
}

// bundleResult describes a bundle that was built, verified or imported.
type bundleResult struct {
	Bundle           string    `json:"bundle"`
	Train            string    `json:"train"`
	Arch             string    `json:"arch"`
	Created          time.Time `json:"created"`
	KeyID            string    `json:"keyID,omitempty"`
	ManifestSHA256   string    `json:"manifestSHA256"`
	Signed           bool      `json:"signed"`
	SignatureChecked bool      `json:"signatureChecked"`
	Size             int64     `json:"size,omitempty"`
	Files            int       `json:"files"`
	PinnedAtBuild    []string  `json:"pinnedAtBuild,omitempty"`
	// Built only.
	DownloadedBytes int64 `json:"downloadedBytes,omitempty"`
	// Imported only.
	Dir             string `json:"dir,omitempty"`
	AlreadyImported bool   `json:"alreadyImported,omitempty"`
	Replaced        bool   `json:"replaced,omitempty"`
}

func newBundleResult(bundle string, m *airgap.Manifest, sha string) bundleResult {
	r := bundleResult{Bundle: bundle, ManifestSHA256: sha}
	if m != nil {
		r.Train, r.Arch, r.Created, r.KeyID, r.Files, r.PinnedAtBuild = m.Train, m.Arch, m.Created, m.KeyID, len(m.Files), m.PinnedAtBuild
		r.Signed = m.KeyID != ""
	}
	return r
}

func (a *App) builtResult(res *airgap.BuildResult) error {
	doc := newBundleResult(res.Path, res.Manifest, res.ManifestSHA256)
	doc.Size, doc.DownloadedBytes = res.Size, res.Downloaded
	return a.result(doc, "")
}

func (a *App) verifiedResult(bundle string, res *airgap.VerifyResult) error {
	doc := newBundleResult(bundle, res.Manifest, res.ManifestSHA256)
	doc.Signed, doc.SignatureChecked, doc.Size = res.Signed, res.SignatureChecked, res.CompressedSize
	return a.result(doc, "")
}

func (a *App) importedResult(bundle string, res *airgap.ImportResult) error {
	doc := newBundleResult(bundle, res.Manifest, res.ManifestSHA256)
	doc.Signed, doc.SignatureChecked = res.Signed, res.SignatureChecked
	doc.Dir, doc.AlreadyImported, doc.Replaced = res.Dir, res.AlreadyImported, res.Replaced
	return a.result(doc, "")
}

type keygenResult struct {
	KeyID      string `json:"keyID"`
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
}

// resetResult is what reset did (or, refused, what it would have done).
type resetResult struct {
	Changed    bool     `json:"changed"`
	ForeignK3s bool     `json:"foreignK3s,omitempty"`
	Units      []string `json:"units,omitempty"`
	Processes  int      `json:"processes,omitempty"`
	Mounts     []string `json:"mounts,omitempty"`
	Netns      []string `json:"netns,omitempty"`
	Interfaces []string `json:"interfaces,omitempty"`
	Rules      int      `json:"iptablesRules,omitempty"`
	Files      []string `json:"files,omitempty"`
	// MovedVolumes were in k3s's data folder, now in VolumesTo.
	MovedVolumes []string `json:"movedVolumes,omitempty"`
	VolumesTo    string   `json:"volumesTo,omitempty"`
	Removed      []string `json:"removedState,omitempty"`
	Kept         []string `json:"kept,omitempty"`
}

func (a *App) resetResult(p *reset.Plan) error {
	doc := resetResult{
		Changed: !p.Empty(), ForeignK3s: p.ForeignK3s, Units: p.Units, Processes: len(p.Processes),
		Mounts: p.Mounts, Netns: p.Netns, Interfaces: p.Interfaces, Files: p.Files, Removed: p.State, Kept: p.Kept,
		MovedVolumes: p.MoveVolumes,
	}
	if len(p.MoveVolumes) > 0 {
		doc.VolumesTo = p.VolumesTo
	}
	for _, r := range p.Rules {
		doc.Rules += len(r)
	}
	return a.result(doc, "")
}

type lockResult struct {
	File   string   `json:"file"`
	Train  string   `json:"train"`
	Pinned []string `json:"pinned"`
}

type fetchedCharts struct {
	Out    string         `json:"out"`
	Trains []fetchedTrain `json:"trains"`
}

type fetchedTrain struct {
	Train  string   `json:"train"`
	Charts []string `json:"charts"`
}

type configureResult struct {
	ConfigPath string `json:"configPath"`
	StateDir   string `json:"stateDir"`
	Domain     string `json:"domain"`
	Profile    string `json:"profile"`
	Train      string `json:"train"`
	// Checked: --non-interactive checked the saved answers; otherwise they were asked and saved.
	Checked bool `json:"checked"`
}

// nonNil keeps an empty list a list in JSON ([] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
