package bundles

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// hopTrain is goodTrain renamed, upgrading from `from`, with its text edited by the pairs.
func hopTrain(name, from string, extra string, edits ...string) string {
	y := strings.Replace(goodTrain, `name: "2030.01"`, `name: "`+name+`"`, 1)
	for i := 0; i+1 < len(edits); i += 2 {
		y = strings.Replace(y, edits[i], edits[i+1], 1)
	}
	if from != "" {
		y += `upgradesFrom: ["` + from + `"]` + "\n"
	}
	return y + extra
}

const pgAndKeycloak = `  - {reference: "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm"}
  - {reference: "quay.io/keycloak/keycloak:26.0.0"}
`

func loadPair(t *testing.T, second string) (*Catalog, error) {
	t.Helper()
	first := strings.Replace(hopTrain("2030.01", "", ""), "images:\n", "images:\n"+pgAndKeycloak, 1)
	return LoadCatalog(fstest.MapFS{
		"t/2030.01.yaml": {Data: []byte(first)},
		"t/2030.02.yaml": {Data: []byte(strings.Replace(second, "images:\n", "images:\n"+pgAndKeycloak, 1))},
	}, "t")
}

func TestDerivedIrreversibleMustBeDeclared(t *testing.T) {
	for _, tc := range []struct {
		name, train, err string
		want             []string // components HopIrreversible returns
	}{
		{"nothing changes", hopTrain("2030.02", "2030.01", ""), "", nil},
		{"docs patch undeclared", hopTrain("2030.02", "2030.01", "", "docs: {version: v5.4.1}", "docs: {version: v5.4.2}"),
			"irreversible does not say so", nil},
		{"docs declared", hopTrain("2030.02", "2030.01", "irreversible: [{component: docs, reason: Docs v5.4.2 migrates}]\n",
			"docs: {version: v5.4.1}", "docs: {version: v5.4.2}"), "", []string{"docs"}},
		{"postgresql minor is reversible", hopTrain("2030.02", "2030.01", ""), "", nil},
		{"k3s skips a minor", hopTrain("2030.02", "2030.01", "", "version: v1.35.2+k3s1", "version: v1.33.1+k3s1"),
			"one minor at a time", nil},
		{"docs skips a minor", hopTrain("2030.02", "2030.01", "irreversible: [{component: docs, reason: migrates}]\n",
			"docs: {version: v5.4.1}", "docs: {version: v5.6.0}"), "skipping a release", nil},
		{"docs next major", hopTrain("2030.02", "2030.01", "irreversible: [{component: docs, reason: migrates}]\n",
			"docs: {version: v5.4.1}", "docs: {version: v6.0.0}"), "", []string{"docs"}},
		{"docs back", hopTrain("2030.02", "2030.01", "irreversible: [{component: docs, reason: migrates}]\n",
			"docs: {version: v5.4.1}", "docs: {version: v5.3.0}"), "moves Docs back", nil},
		{"extra declaration kept", hopTrain("2030.02", "2030.01", "irreversible: [{component: standin-app, reason: stand-in migration}]\n"),
			"", []string{"standin-app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train := tc.train
			if tc.name == "postgresql minor is reversible" {
				// 17.6 → 17.11 in the second train only.
				c, err := LoadCatalog(fstest.MapFS{
					"t/2030.01.yaml": {Data: []byte(strings.Replace(hopTrain("2030.01", "", ""), "images:\n", "images:\n"+pgAndKeycloak, 1))},
					"t/2030.02.yaml": {Data: []byte(strings.Replace(train, "images:\n", "images:\n"+strings.Replace(pgAndKeycloak, "17.6", "17.11", 1), 1))},
				}, "t")
				if err != nil {
					t.Fatal(err)
				}
				a, _ := c.Get("2030.01")
				b, _ := c.Get("2030.02")
				if got := HopIrreversible(a, b); len(got) != 0 {
					t.Fatalf("a PostgreSQL minor was counted: %v", got)
				}
				return
			}
			c, err := loadPair(t, train)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := c.Get("2030.01")
			b, _ := c.Get("2030.02")
			var got []string
			for _, ir := range HopIrreversible(a, b) {
				got = append(got, ir.Component)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("irreversible = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDerivedIrreversibleRules(t *testing.T) {
	base, err := ParseTrain([]byte(strings.Replace(goodTrain, "images:\n", "images:\n"+pgAndKeycloak, 1)))
	if err != nil {
		t.Fatal(err)
	}
	next := func(edit func(*Train)) *Train {
		n := *base
		n.Images = append([]Image(nil), base.Images...)
		edit(&n)
		return &n
	}
	setTag := func(tr *Train, repo, tag string) {
		for i, im := range tr.Images {
			if strings.HasSuffix(im.Repository(), repo) {
				tr.Images[i].Reference = im.Repository() + ":" + tag
			}
		}
	}
	for _, tc := range []struct {
		name string
		to   *Train
		want string
	}{
		{"same", next(func(*Train) {}), ""},
		{"keycloak patch", next(func(n *Train) { setTag(n, keycloakImage, "26.0.1") }), "keycloak"},
		{"postgresql major", next(func(n *Train) { setTag(n, postgresqlImage, "18.1-standard-bookworm") }), "postgresql"},
		{"postgresql minor", next(func(n *Train) { setTag(n, postgresqlImage, "17.11-standard-bookworm") }), ""},
		{"docs minor", next(func(n *Train) { n.Docs.Version = "v5.5.0" }), "docs"},
	} {
		var got []string
		for _, d := range DerivedIrreversible(base, tc.to) {
			got = append(got, d.Component)
			if d.Reason == "" {
				t.Errorf("%s: %s has no reason", tc.name, d.Component)
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: derived %v, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIrreversibleFieldErrors(t *testing.T) {
	for _, tc := range []struct{ extra, want string }{
		{"upgradesFrom: [\"2029.12\"]\nirreversible: [{component: Docs, reason: x}]\n", "irreversible[0].component"},
		{"upgradesFrom: [\"2029.12\"]\nirreversible: [{component: docs}]\n", "irreversible[0].reason: empty"},
		{"upgradesFrom: [\"2029.12\"]\nirreversible: [{component: docs, reason: a}, {component: docs, reason: b}]\n", "listed twice"},
		{"irreversible: [{component: docs, reason: a}]\n", "no hop to mark"},
	} {
		_, err := ParseTrain([]byte(goodTrain + tc.extra))
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.extra, err, tc.want)
		}
	}
}

func TestPathErrorKinds(t *testing.T) {
	c := graphCatalog(t)
	for _, tc := range []struct {
		from, to string
		kind     PathKind
	}{
		{"2030.03", "2030.01", PathDowngrade},
		{"2030.01", "2030.05", PathSkipsStop},
		{"2030.04", "2030.05", PathNone},
		{"2030.01", "2031.01", PathUnknownTrain},
	} {
		_, err := c.UpgradePath(tc.from, tc.to)
		var pe *PathError
		if !errors.As(err, &pe) || pe.Kind != tc.kind || pe.ExitCode() != ExitPathRefused {
			t.Errorf("%s→%s: err = %#v, want kind %s", tc.from, tc.to, err, tc.kind)
			continue
		}
	}
}

// The breadth-first search reaches 2099.03 first straight from 2099.01, where 2099.04's stop
// (2099.02) is not behind: the path through the stop must still be found.
func TestPathThroughAStopTheSearchPassedBy(t *testing.T) {
	train := func(name, from, stops string) string {
		return hopTrain(name, "", "upgradesFrom: ["+from+"]\nrequiredStops: ["+stops+"]\n")
	}
	c, err := LoadCatalog(fstest.MapFS{
		"t/2099.01.yaml": {Data: []byte(hopTrain("2099.01", "", ""))},
		"t/2099.02.yaml": {Data: []byte(train("2099.02", `"2099.01"`, ""))},
		"t/2099.03.yaml": {Data: []byte(train("2099.03", `"2099.01", "2099.02"`, ""))},
		"t/2099.04.yaml": {Data: []byte(train("2099.04", `"2099.03"`, `"2099.02"`))},
	}, "t")
	if err != nil {
		t.Fatal(err)
	}
	path, err := c.UpgradePath("2099.01", "2099.04")
	if err != nil || strings.Join(path, ",") != "2099.02,2099.03,2099.04" {
		t.Fatalf("path %v, err %v", path, err)
	}
}

func TestEmbeddedGraph(t *testing.T) {
	c, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	path, err := c.UpgradePath("2026.11", "2026.12")
	if err != nil || strings.Join(path, ",") != "2026.12" {
		t.Fatalf("2026.11 → 2026.12: path %v, err %v", path, err)
	}
	a, _ := c.Get("2026.11")
	b, _ := c.Get("2026.12")
	if got := HopIrreversible(a, b); len(got) != 0 {
		t.Errorf("2026.11 → 2026.12 keeps Docs, Keycloak and the PostgreSQL major, yet marks %v", got)
	}
	if _, err := c.UpgradePath("2026.12", "2026.11"); err == nil {
		t.Error("a downgrade was allowed")
	}
}
