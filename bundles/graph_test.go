package bundles

import (
	"strings"
	"testing"
	"testing/fstest"
)

func graphCatalog(t *testing.T) *Catalog {
	t.Helper()
	train := func(name string, from []string, stops []string) string {
		y := strings.Replace(goodTrain, `name: "2030.01"`, `name: "`+name+`"`, 1)
		y += "upgradesFrom: [" + quoteAll(from) + "]\nrequiredStops: [" + quoteAll(stops) + "]\n"
		return y
	}
	fsys := fstest.MapFS{
		"t/2030.01.yaml": {Data: []byte(train("2030.01", nil, nil))},
		"t/2030.02.yaml": {Data: []byte(train("2030.02", []string{"2030.01"}, nil))},
		"t/2030.03.yaml": {Data: []byte(train("2030.03", []string{"2030.02"}, nil))},
		// 2030.04 allows jumping from 2030.02 but its database migration needs 2030.03 first.
		"t/2030.04.yaml": {Data: []byte(train("2030.04", []string{"2030.02", "2030.03"}, []string{"2030.03"}))},
		// A broken graph: 2030.05 needs 2030.04 behind it but only accepts 2030.01.
		"t/2030.05.yaml": {Data: []byte(train("2030.05", []string{"2030.01"}, []string{"2030.04"}))},
	}
	c, err := LoadCatalog(fsys, "t")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}

func TestUpgradePath(t *testing.T) {
	c := graphCatalog(t)
	for _, tc := range []struct{ from, to, want, err string }{
		{"2030.01", "2030.02", "2030.02", ""},
		{"2030.01", "2030.03", "2030.02,2030.03", ""},
		{"2030.03", "2030.04", "2030.04", ""},
		{"2030.01", "2030.04", "2030.02,2030.03,2030.04", ""},
		{"2030.02", "2030.04", "2030.03,2030.04", ""},
		{"2030.01", "2030.05", "", "requires a stop at 2030.04"},
		{"2030.04", "2030.05", "", "upgrades only from 2030.01"},
		{"2030.03", "2030.01", "", "downgrade"},
		{"2030.03", "2030.03", "", ""},
		{"2030.01", "2031.01", "", "not known"},
	} {
		path, err := c.UpgradePath(tc.from, tc.to)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s→%s: err = %v, want %q", tc.from, tc.to, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(path, ",") != tc.want {
			t.Errorf("%s→%s: path %v, err %v, want %s", tc.from, tc.to, path, err, tc.want)
		}
	}
}

func TestUnknownRequiredStopRefused(t *testing.T) {
	y := strings.Replace(goodTrain, `name: "2030.01"`, `name: "2030.05"`, 1) + "requiredStops: [\"2030.04\"]\n"
	_, err := LoadCatalog(fstest.MapFS{"t/2030.05.yaml": {Data: []byte(y)}}, "t")
	if err == nil || !strings.Contains(err.Error(), "unknown train 2030.04") {
		t.Fatalf("err = %v", err)
	}
}
