package bundles

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// Subchart is a chart packaged inside a train's chart, as its archive has
// it (`make lock` records them).
type Subchart struct {
	// Name is the path below the chart: "grafana", or "a/b" for a
	// subchart of a subchart.
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
}

// ChartMeta is what a packaged chart says about itself in its Chart.yaml
// files.
type ChartMeta struct {
	Name, Version, AppVersion string
	// Subcharts, depth first, sorted by name at each level.
	Subcharts []Subchart
}

// ReadChartMeta reads the name, version and appVersion of a packaged chart
// (.tgz bytes) and of every subchart inside it.
func ReadChartMeta(tgz []byte) (*ChartMeta, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("reading chart archive: %w", err)
	}
	if ch.Metadata == nil {
		return nil, fmt.Errorf("reading chart archive: no Chart.yaml")
	}
	meta := &ChartMeta{Name: ch.Metadata.Name, Version: ch.Metadata.Version, AppVersion: ch.Metadata.AppVersion}
	var walk func(prefix string, c *chart.Chart)
	walk = func(prefix string, c *chart.Chart) {
		deps := append([]*chart.Chart(nil), c.Dependencies()...)
		sort.Slice(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
		for _, d := range deps {
			name := prefix + d.Name()
			meta.Subcharts = append(meta.Subcharts, Subchart{Name: name, Version: d.Metadata.Version, AppVersion: d.Metadata.AppVersion})
			walk(name+"/", d)
		}
	}
	walk("", ch)
	return meta, nil
}

// chartAppVersion is the appVersion the train records for a chart link
// ("name" or "name/subchart"); known is false when it is not recorded
// yet (before `make lock`).
func (t *Train) chartAppVersion(link string) (appVersion string, known bool) {
	name, sub, _ := strings.Cut(link, "/")
	c, ok := t.Chart(name)
	if !ok {
		return "", false
	}
	if sub == "" {
		return c.AppVersion, c.AppVersion != ""
	}
	for _, s := range c.Subcharts {
		if s.Name == sub {
			return s.AppVersion, true
		}
	}
	return "", false
}

// AppVersionMatches reports whether an image tag is the release a chart's
// appVersion names: equal but for a leading "v" ("v2.20.0" runs appVersion
// "2.20.0"), or that release's variant ("v1.12.1-distroless"; a suffix of
// letters only, so "-rc.1" is another release).
func AppVersionMatches(tag, appVersion string) bool {
	t, a := strings.TrimPrefix(tag, "v"), strings.TrimPrefix(appVersion, "v")
	if a == "" {
		return false
	}
	if t == a {
		return true
	}
	variant, ok := strings.CutPrefix(t, a+"-")
	if !ok || variant == "" {
		return false
	}
	for _, r := range variant {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// validateChartLinks checks the images' links to charts and, where the
// train records the chart's appVersion, that each linked image is that
// release or says why not.
func (t *Train) validateChartLinks(add func(p, problem, fix string)) {
	linked := map[string]bool{}
	for i, im := range t.Images {
		p := fmt.Sprintf("images[%d]", i)
		if im.Chart == "" {
			if im.AppVersionMismatch != "" {
				add(p+".appVersionMismatch", "set on an image linked to no chart", "link the image with chart: <chart name>, or remove appVersionMismatch")
			}
			continue
		}
		name, sub, _ := strings.Cut(im.Chart, "/")
		c, ok := t.Chart(name)
		if !ok {
			add(p+".chart", fmt.Sprintf("%q names no chart of the train", name), "use the name of an entry of charts[], or name/subchart")
			continue
		}
		if sub == "" {
			linked[name] = true
		}
		if sub != "" && len(c.Subcharts) > 0 {
			if _, known := t.chartAppVersion(im.Chart); !known {
				add(p+".chart", fmt.Sprintf("chart %s %s has no subchart %q (it has %s)", c.Name, c.Version, sub, subchartNames(c.Subcharts)), "name one of its subcharts")
				continue
			}
		}
		if av, known := t.chartAppVersion(im.Chart); known {
			checkAppVersion(add, i, im, av)
		}
	}
	for i, c := range t.Charts {
		p := fmt.Sprintf("charts[%d]", i)
		if c.AppVersion != "" && !linked[c.Name] {
			add(p, fmt.Sprintf("chart %s %s (appVersion %s) is linked to no image, so nothing checks that the train runs its release", c.Name, c.Version, c.AppVersion),
				fmt.Sprintf("set chart: %s on the image the chart runs", c.Name))
		}
		seen := map[string]bool{}
		for j, s := range c.Subcharts {
			sp := fmt.Sprintf("%s.subcharts[%d]", p, j)
			if s.Name == "" || s.Version == "" {
				add(sp, "name or version empty", "run make lock: it records the subcharts from the archive")
			} else if seen[s.Name] {
				add(sp+".name", fmt.Sprintf("subchart %q listed twice", s.Name), "keep one entry per subchart")
			}
			seen[s.Name] = true
		}
	}
}

// checkAppVersion reports image i when its tag is not the release
// appVersion names and the train does not say why, or says why although
// it is.
func checkAppVersion(add func(p, problem, fix string), i int, im Image, appVersion string) {
	p := fmt.Sprintf("images[%d]", i)
	switch {
	case appVersion == "":
		add(p+".chart", fmt.Sprintf("chart %s declares no appVersion to check the image against", im.Chart), "remove chart: from this image")
	case AppVersionMatches(im.Tag(), appVersion) && im.AppVersionMismatch != "":
		add(p+".appVersionMismatch", fmt.Sprintf("%s is the release chart %s ships (appVersion %s): there is no mismatch to explain", im.Reference, im.Chart, appVersion), "remove appVersionMismatch")
	case !AppVersionMatches(im.Tag(), appVersion) && im.AppVersionMismatch == "":
		add(p+".reference", fmt.Sprintf("tag %s is not the release chart %s ships (appVersion %s)", im.Tag(), im.Chart, appVersion),
			fmt.Sprintf("pin %s:%s, or pin the chart version whose appVersion is %s, or say why they differ in images[%d].appVersionMismatch", im.Repository(), appVersion, im.Tag(), i))
	}
}

func (m *ChartMeta) subchartAppVersion(name string) (string, bool) {
	for _, s := range m.Subcharts {
		if s.Name == name {
			return s.AppVersion, true
		}
	}
	return "", false
}

func subchartNames(subs []Subchart) string {
	if len(subs) == 0 {
		return "none"
	}
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// CheckChartArchive compares chart i of the train with what its packaged
// archive says: the same name and version, the appVersion and subcharts
// the train records (when it records them), and every image linked to the
// chart against the archive's appVersions. All problems come back at once
// as a *ValidationError.
func (t *Train) CheckChartArchive(i int, meta *ChartMeta) error {
	c := t.Charts[i]
	p := fmt.Sprintf("charts[%d]", i)
	var errs []FieldError
	add := func(path, problem, fix string) { errs = append(errs, FieldError{path, problem, fix}) }
	if meta.Name != c.Name || meta.Version != c.Version {
		add(p, fmt.Sprintf("the archive %s is chart %s %s", c.FileName(), meta.Name, meta.Version), "put the chart the train pins in the folder")
	}
	if c.AppVersion != "" && c.AppVersion != meta.AppVersion {
		add(p+".appVersion", fmt.Sprintf("the train records %q but the archive's Chart.yaml says %q", c.AppVersion, meta.AppVersion), "run make lock to record what the pinned chart ships, then check its images")
	}
	if len(c.Subcharts) > 0 && !sameSubcharts(c.Subcharts, meta.Subcharts) {
		add(p+".subcharts", fmt.Sprintf("the train records %s but the archive holds %s", formatSubcharts(c.Subcharts), formatSubcharts(meta.Subcharts)), "run make lock to record what the pinned chart ships")
	}
	// The links, checked against the archive rather than the record.
	for j, im := range t.Images {
		name, sub, _ := strings.Cut(im.Chart, "/")
		if name != c.Name {
			continue
		}
		av, found := meta.AppVersion, true
		if sub != "" {
			av, found = meta.subchartAppVersion(sub)
		}
		if !found {
			add(fmt.Sprintf("images[%d].chart", j), fmt.Sprintf("chart %s %s has no subchart %q (it has %s)", c.Name, c.Version, sub, subchartNames(meta.Subcharts)), "name one of its subcharts")
			continue
		}
		checkAppVersion(add, j, im, av)
	}
	if len(errs) > 0 {
		return &ValidationError{Subject: fmt.Sprintf("train %s against chart archive %s", t.Name, c.FileName()), Fields: errs}
	}
	return nil
}

// RecordChartMeta writes what the archive says into chart i (make lock)
// and returns "field = value" for each field it changed.
func (t *Train) RecordChartMeta(i int, meta *ChartMeta) []string {
	c := &t.Charts[i]
	var changed []string
	p := fmt.Sprintf("charts[%d]", i)
	if c.AppVersion != meta.AppVersion {
		c.AppVersion = meta.AppVersion
		changed = append(changed, fmt.Sprintf("%s.appVersion (%s %s) = %s", p, c.Name, c.Version, meta.AppVersion))
	}
	if !sameSubcharts(c.Subcharts, meta.Subcharts) {
		c.Subcharts = append([]Subchart(nil), meta.Subcharts...)
		changed = append(changed, fmt.Sprintf("%s.subcharts (%s %s) = %s", p, c.Name, c.Version, formatSubcharts(meta.Subcharts)))
	}
	return changed
}

func sameSubcharts(a, b []Subchart) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func formatSubcharts(s []Subchart) string {
	if len(s) == 0 {
		return "no subcharts"
	}
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = fmt.Sprintf("%s %s (app %s)", x.Name, x.Version, orDash(x.AppVersion))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
