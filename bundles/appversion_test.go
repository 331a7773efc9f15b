package bundles

import (
	"errors"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

func TestAppVersionMatches(t *testing.T) {
	cases := []struct {
		tag, appVersion string
		want            bool
	}{
		{"v2.20.0", "2.20.0", true},             // kube-state-metrics: the chart prefixes "v"
		{"13.2.0", "13.2.0", true},              // grafana
		{"v0.26.0", "0.26.0", true},             // redis-operator
		{"v1.12.1-distroless", "1.12.1", true},  // a variant of the release
		{"v1.10.2", "1.12.1", false},            // an older release
		{"v0.14.0", "v0.13.0", false},           // a newer one
		{"v1.12.1-rc.1", "1.12.1", false},       // a pre-release is another release
		{"v1.12.10", "1.12.1", false},           // not a prefix match
		{"v5.4.1", "latest", false},             // a chart that names no release
		{"v1.0.0", "", false},                   // nothing to match
		{"distroless-v1.37.0", "1.37.0", false}, // variants come after the version
	}
	for _, c := range cases {
		if got := AppVersionMatches(c.tag, c.appVersion); got != c.want {
			t.Errorf("AppVersionMatches(%q, %q) = %v, want %v", c.tag, c.appVersion, got, c.want)
		}
	}
}

// linkedTrain is goodTrain with the docs chart's appVersion and its
// subcharts recorded and the backend image linked to it.
const linkedTrain = `
name: "2030.01"
k3s:
  version: v1.35.2+k3s1
  artifacts:
    amd64: {binaryURL: https://x/k3s, airgapImagesURL: https://x/a.tar.zst}
kubernetes: {minVersion: "1.33", maxVersion: "1.36"}
flux:
  version: v2.9.5
  controllers: {source-controller: v1.9.5, kustomize-controller: v1.9.5, notification-controller: v1.9.4}
docs: {version: v5.4.1}
charts:
  - name: docs
    repository: "https://example.org/charts"
    version: 5.4.1
    appVersion: v5.4.1
    subcharts:
      - {name: dashboards, version: 0.1.0, appVersion: 2.0.0}
images:
  - {reference: "docker.io/lasuite/impress-backend:v5.4.1", chart: docs}
  - {reference: "docker.io/example/dashboards:2.0.0", chart: docs/dashboards}
`

func TestTrainValidationChecksImagesAgainstTheirChart(t *testing.T) {
	if _, err := ParseTrain([]byte(linkedTrain)); err != nil {
		t.Fatalf("consistent train rejected: %v", err)
	}
	cases := []struct {
		name, from, to string
		wantPath, want string
	}{
		{"older image", `impress-backend:v5.4.1", chart: docs}`, `impress-backend:v5.4.0", chart: docs}`,
			"images[0].reference", "tag v5.4.0 is not the release chart docs ships (appVersion v5.4.1)"},
		{"subchart image", `dashboards:2.0.0"`, `dashboards:1.9.0"`,
			"images[1].reference", "chart docs/dashboards ships (appVersion 2.0.0)"},
		{"chart bumped, image not", `appVersion: v5.4.1`, `appVersion: v5.5.0`,
			"images[0].reference", "pin docker.io/lasuite/impress-backend:v5.5.0, or pin the chart version whose appVersion is v5.4.1"},
		{"stale reason", `chart: docs}`, `chart: docs, appVersionMismatch: "hotfix"}`,
			"images[0].appVersionMismatch", "there is no mismatch to explain"},
		{"reason without a chart", `, chart: docs}`, `, appVersionMismatch: "hotfix"}`,
			"images[0].appVersionMismatch", "linked to no chart"},
		{"unknown chart", `chart: docs}`, `chart: doc}`, "images[0].chart", `"doc" names no chart`},
		{"unknown subchart", `chart: docs/dashboards`, `chart: docs/grafana`, "images[1].chart", `has no subchart "grafana" (it has dashboards)`},
		{"chart linked to nothing", `, chart: docs}`, `}`, "charts[0]", "linked to no image"},
		{"subchart twice", `      - {name: dashboards, version: 0.1.0, appVersion: 2.0.0}`,
			"      - {name: dashboards, version: 0.1.0, appVersion: 2.0.0}\n      - {name: dashboards, version: 0.1.0}",
			"charts[0].subcharts[1].name", "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(linkedTrain, c.from, c.to, 1)
			if in == linkedTrain {
				t.Fatalf("replacement %q not found", c.from)
			}
			_, err := ParseTrain([]byte(in))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			var found bool
			for _, f := range ve.Fields {
				if f.Path == c.wantPath && strings.Contains(f.Error(), c.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no field error %s mentioning %q in:\n%v", c.wantPath, c.want, err)
			}
		})
	}

	// A mismatch the train explains is accepted.
	explained := strings.Replace(linkedTrain, `impress-backend:v5.4.1", chart: docs}`,
		`impress-backend:v5.4.2", chart: docs, appVersionMismatch: "v5.4.2 fixes a security issue; no chart release carries it yet"}`, 1)
	if _, err := ParseTrain([]byte(explained)); err != nil {
		t.Fatalf("explained mismatch rejected: %v", err)
	}
	// Before lock records the appVersion there is nothing to compare: the
	// archive is checked instead (CheckChartArchive).
	unrecorded := strings.Replace(strings.Replace(linkedTrain, "    appVersion: v5.4.1\n", "", 1), `impress-backend:v5.4.1"`, `impress-backend:v5.0.0"`, 1)
	if _, err := ParseTrain([]byte(unrecorded)); err != nil {
		t.Fatalf("unrecorded appVersion: %v", err)
	}
}

// packTestChart packages a chart with one subchart (and one below it),
// as `helm package` would after `helm dependency build`.
func packTestChart(t *testing.T, version, appVersion, subAppVersion string) []byte {
	t.Helper()
	leaf := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "panels", Version: "0.0.1"}}
	sub := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "dashboards", Version: "0.1.0", AppVersion: subAppVersion}}
	sub.AddDependency(leaf)
	top := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: "v2", Name: "docs", Version: version, AppVersion: appVersion},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")}},
	}
	top.AddDependency(sub)
	p, err := chartutil.Save(top, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestChartArchiveIsCheckedAndRecorded(t *testing.T) {
	meta, err := ReadChartMeta(packTestChart(t, "5.4.1", "v5.4.1", "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	wantSubs := []Subchart{{Name: "dashboards", Version: "0.1.0", AppVersion: "2.0.0"}, {Name: "dashboards/panels", Version: "0.0.1"}}
	if meta.Name != "docs" || meta.Version != "5.4.1" || meta.AppVersion != "v5.4.1" || !sameSubcharts(meta.Subcharts, wantSubs) {
		t.Fatalf("meta = %+v", meta)
	}
	if _, err := ReadChartMeta([]byte("not a chart")); err == nil {
		t.Fatal("garbage read as a chart")
	}

	// An unlocked train: nothing recorded, the images checked against the archive.
	base := strings.Replace(strings.Replace(linkedTrain, "    appVersion: v5.4.1\n", "", 1),
		"    subcharts:\n      - {name: dashboards, version: 0.1.0, appVersion: 2.0.0}\n", "", 1)
	tr, err := ParseTrain([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckChartArchive(0, meta); err != nil {
		t.Fatalf("consistent archive rejected: %v", err)
	}
	changed := tr.RecordChartMeta(0, meta)
	if len(changed) != 2 || !strings.HasPrefix(changed[0], "charts[0].appVersion (docs 5.4.1) = v5.4.1") || !strings.Contains(changed[1], "dashboards/panels 0.0.1") {
		t.Fatalf("recorded %q", changed)
	}
	if err := tr.Validate(); err != nil {
		t.Fatalf("recorded train does not validate: %v", err)
	}
	if again := tr.RecordChartMeta(0, meta); len(again) != 0 {
		t.Fatalf("recording the same archive again changed %q", again)
	}

	fieldsOf := func(err error) map[string]string {
		t.Helper()
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("want a ValidationError, got %v", err)
		}
		out := map[string]string{}
		for _, f := range ve.Fields {
			out[f.Path] = f.Error()
		}
		return out
	}
	// The chart's next release ships other apps: the recorded facts and
	// both linked images are reported at once.
	next, err := ReadChartMeta(packTestChart(t, "5.4.1", "v5.5.0", "2.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	f := fieldsOf(tr.CheckChartArchive(0, next))
	for _, p := range []string{"charts[0].appVersion", "charts[0].subcharts", "images[0].reference", "images[1].reference"} {
		if f[p] == "" {
			t.Errorf("no error on %s in %v", p, f)
		}
	}
	if !strings.Contains(f["charts[0].appVersion"], `records "v5.4.1" but the archive's Chart.yaml says "v5.5.0"`) {
		t.Errorf("appVersion error: %s", f["charts[0].appVersion"])
	}
	// Another chart version in the file than the train pins.
	other, _ := ReadChartMeta(packTestChart(t, "5.4.2", "v5.4.1", "2.0.0"))
	if f := fieldsOf(tr.CheckChartArchive(0, other)); !strings.Contains(f["charts[0]"], "is chart docs 5.4.2") {
		t.Errorf("version error: %v", f)
	}
	// A subchart the archive does not hold.
	tr.Images[1].Chart = "docs/grafana"
	if f := fieldsOf(tr.CheckChartArchive(0, meta)); !strings.Contains(f["images[1].chart"], `no subchart "grafana"`) {
		t.Errorf("subchart link error: %v", f)
	}
}

func TestWritePinsRecordsChartFacts(t *testing.T) {
	in := strings.Replace(strings.Replace(linkedTrain, "    appVersion: v5.4.1\n", "", 1),
		"    subcharts:\n      - {name: dashboards, version: 0.1.0, appVersion: 2.0.0}\n", "", 1)
	in = "# reviewed\n" + in
	tr, err := ParseTrain([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ReadChartMeta(packTestChart(t, "5.4.1", "v5.4.1", "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	tr.RecordChartMeta(0, meta)
	out, err := WritePins([]byte(in), tr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTrain(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Charts[0].AppVersion != "v5.4.1" || !sameSubcharts(back.Charts[0].Subcharts, meta.Subcharts) {
		t.Fatalf("not recorded:\n%s", out)
	}
	for _, want := range []string{"# reviewed", `appVersion: "v5.4.1"`, `- {name: "dashboards/panels", version: "0.0.1"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("file lacks %q:\n%s", want, out)
		}
	}
}

// TestTrain202611RefusesThePinsOfIssue11 puts back, one at a time, the
// pins that disagreed with their charts when the real charts were first
// rendered: train validation names each.
func TestTrain202611RefusesThePinsOfIssue11(t *testing.T) {
	data, err := embeddedTrains.ReadFile("trains/2026.11.yaml")
	if err != nil {
		t.Fatal(err)
	}
	train := string(data)
	if _, err := ParseTrain(data); err != nil {
		t.Fatalf("train 2026.11: %v", err)
	}
	replace := func(from, to string) func(string) string {
		return func(s string) string { return strings.Replace(s, from, to, 1) }
	}
	cases := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"grafana", replace("grafana/grafana:13.2.0", "grafana/grafana:12.2.1"),
			"images[33].reference: tag 12.2.1 is not the release chart kube-prometheus-stack/grafana ships (appVersion 13.2.0)"},
		{"kube-state-metrics", replace("kube-state-metrics:v2.20.0", "kube-state-metrics:v2.17.0"),
			"tag v2.17.0 is not the release chart kube-prometheus-stack/kube-state-metrics ships (appVersion 2.20.0)"},
		{"node-exporter", replace("node-exporter:v1.12.1", "node-exporter:v1.10.2"),
			"tag v1.10.2 is not the release chart kube-prometheus-stack/prometheus-node-exporter ships (appVersion 1.12.1)"},
		{"barman-cloud without its reason", func(s string) string {
			return dropLines(s, "appVersionMismatch: &barman014", "appVersionMismatch: *barman014")
		}, "tag v0.14.0 is not the release chart plugin-barman-cloud ships (appVersion v0.13.0)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.edit(train)
			if in == train {
				t.Fatal("the edit changed nothing")
			}
			if _, err := ParseTrain([]byte(in)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}

func dropLines(s string, containing ...string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
next:
	for _, l := range lines {
		for _, c := range containing {
			if strings.Contains(l, c) {
				continue next
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
