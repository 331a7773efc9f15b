package preflight

import (
	"github.com/suitenumerique/docs-appliance/installer/golden"

	"bytes"
	"encoding/json"
	"testing"
)

func sampleReport() *Report {
	checks := map[string]Check{}
	for _, c := range HostChecks() {
		checks[c.ID] = c
	}
	rep := &Report{Kind: "host", Profile: "single-small", OK: true}
	rep.add(checks["root"].evaluate(pass("running as root")))
	rep.add(checks["memory"].evaluate(fail("3.8 GiB of memory, the single-small profile needs 8 GiB").withFix("give the server more memory: single-small is the smallest profile")))
	rep.add(checks["ports"].evaluate(fail("port(s) in use: 80 (held by nginx, pid 812)")))
	rep.add(checks["swap"].evaluate(warnf("swap is on: /swapfile (2.0 GiB)")))
	rep.add(Result{ID: "clock", Severity: Warn, What: checks["clock"].What, Outcome: Ignored})
	return rep
}

func TestReportTextGolden(t *testing.T) {
	golden.Check(t, "report.txt", []byte(sampleReport().Text()))
}

func TestReportJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().Write(&b, true); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.json", b.Bytes())
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.OK || back.Summary.Failed != 2 {
		t.Errorf("JSON does not round-trip: %+v %v", back.Summary, err)
	}
}
