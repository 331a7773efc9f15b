package upgrade

import (
	"sort"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Change is one versioned thing of a hop: From "" when the hop adds it,
// To "" when the hop removes it.
type Change struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Changed reports whether the hop changes it.
func (c Change) Changed() bool { return c.From != c.To }

// versionChanges compares the pinned versions of two trains.
func versionChanges(from, to *bundles.Train) (k3s, flux, docs Change, controllers, charts, images []Change) {
	k3s = Change{Name: "k3s", From: from.K3s.Version, To: to.K3s.Version}
	flux = Change{Name: "flux", From: from.Flux.Version, To: to.Flux.Version}
	docs = Change{Name: "docs", From: from.Docs.Version, To: to.Docs.Version}
	controllers = diffMaps(from.Flux.Controllers, to.Flux.Controllers)
	cf, ct := map[string]string{}, map[string]string{}
	for _, c := range from.Charts {
		cf[c.Name] = c.Version
	}
	for _, c := range to.Charts {
		ct[c.Name] = c.Version
	}
	charts = diffMaps(cf, ct)
	imf, imt := map[string]string{}, map[string]string{}
	for _, im := range from.Images {
		imf[im.Repository()] = im.Tag()
	}
	for _, im := range to.Images {
		imt[im.Repository()] = im.Tag()
	}
	images = diffMaps(imf, imt)
	return
}

// diffMaps lists every name whose value differs, added or removed, by name.
func diffMaps(from, to map[string]string) []Change {
	out := []Change{}
	for n, v := range from {
		if w := to[n]; w != v {
			out = append(out, Change{Name: n, From: v, To: w})
		}
	}
	for n, w := range to {
		if _, ok := from[n]; !ok {
			out = append(out, Change{Name: n, To: w})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NewImages is what a hop brings onto the node: the images of to that from
// does not pin (by reference), with the bytes the train records for them.
type NewImages struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
	// WithoutSize are the new images whose train records no size: the
	// disk they need is unknown.
	WithoutSize []string `json:"withoutSize,omitempty"`
}

func newImages(from, to *bundles.Train) NewImages {
	had := map[string]bool{}
	for _, im := range from.Images {
		had[im.Reference] = true
	}
	var n NewImages
	for _, im := range to.Images {
		if had[im.Reference] {
			continue
		}
		n.Count++
		if im.Size <= 0 {
			n.WithoutSize = append(n.WithoutSize, im.Reference)
			continue
		}
		n.Bytes += im.Size
	}
	return n
}
