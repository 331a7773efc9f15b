package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/golden"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// The host checks read real files under a test root. systemd cannot run
// here, so systemctl's answers come from host.Recorder (a fake, for that
// reason only).
func hostEnv(t *testing.T) (*Env, host.Root, *host.Recorder) {
	t.Helper()
	root := host.Root(t.TempDir())
	rec := &host.Recorder{}
	write := func(p, text string) {
		full := root.Path(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/proc/meminfo", "MemTotal:       8000000 kB\nMemAvailable:   4000000 kB\n")
	write("/var/lib/docs-appliance/appliance.yaml", "x")
	return &Env{StateDir: "/var/lib/docs-appliance", Host: &HostFacts{Root: root, Runner: rec, DataDir: "/var/lib/rancher/k3s",
		VolumesDir: "/var/lib/docs-appliance/volumes", Service: "k3s.service"}}, root, rec
}

func runCheck(t *testing.T, e *Env, id string) Result {
	t.Helper()
	checks, err := Select(All(), []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), e, checks).Results[0]
}

func TestHostChecks(t *testing.T) {
	e, root, rec := hostEnv(t)
	if r := runCheck(t, e, "host-disk"); r.Outcome == Failed || !strings.Contains(r.Detail, "/var/lib/docs-appliance") {
		t.Fatalf("disk on a test folder: %+v", r)
	}
	if r := runCheck(t, e, "host-memory"); r.Outcome != Passed || !strings.Contains(r.Detail, "3.8 GiB of 7.6 GiB available") {
		t.Fatalf("memory: %+v", r)
	}
	if err := os.WriteFile(root.Path("/proc/meminfo"), []byte("MemTotal: 8000000 kB\nMemAvailable: 300000 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCheck(t, e, "host-memory"); r.Outcome != Failed {
		t.Fatalf("memory almost gone: %+v", r)
	}
	if err := os.MkdirAll(root.Path("/proc/pressure"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/proc/meminfo"), []byte("MemTotal: 8000000 kB\nMemAvailable: 4000000 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/proc/pressure/memory"), []byte("some avg10=30.00 avg60=1 avg300=1 total=1\nfull avg10=12.50 avg60=1 avg300=1 total=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCheck(t, e, "host-memory"); r.Outcome != Failed || !strings.Contains(r.Detail, "thrashing") {
		t.Fatalf("memory stalls: %+v", r)
	}

	rec.Reply([]string{"systemctl", "is-active", "k3s.service"}, "failed\n", 3)
	if r := runCheck(t, e, "host-k3s-service"); r.Outcome != Failed || !strings.Contains(r.Detail, "k3s.service is failed") || !strings.Contains(r.Fix, "journalctl -u k3s.service") {
		t.Fatalf("k3s down: %+v", r)
	}
	rec.Reset()
	rec.Reply([]string{"systemctl", "is-active", "k3s.service"}, "active\n", 0)
	if r := runCheck(t, e, "host-k3s-service"); r.Outcome != Warned || !strings.Contains(r.Detail, "does not start at boot") {
		t.Fatalf("k3s not enabled: %+v", r)
	}
	if err := os.MkdirAll(root.Path(host.UnitDir+"/multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(host.EnabledLink("k3s.service")), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCheck(t, e, "host-k3s-service"); r.Outcome != Passed {
		t.Fatalf("k3s running: %+v", r)
	}

	// k3s's server certificates: the soonest to expire decides.
	tls := root.Path("/var/lib/rancher/k3s/server/tls")
	if err := os.MkdirAll(tls, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := certtest.NewRoot(t, "k3s-server-ca")
	put := func(name string, days int) {
		leaf := ca.Issue(t, certtest.Leaf{Hosts: []string{"kubernetes"}, NotAfter: time.Now().Add(time.Duration(days) * 24 * time.Hour)})
		if err := os.WriteFile(filepath.Join(tls, name), certtest.CertPEM(leaf.Cert), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("serving-kube-apiserver.crt", 300)
	put("client-admin.crt", 200)
	if r := runCheck(t, e, "host-k3s-certificates"); r.Outcome != Passed || !strings.Contains(r.Detail, "client-admin.crt") {
		t.Fatalf("certificates: %+v", r)
	}
	put("client-admin.crt", 10)
	if r := runCheck(t, e, "host-k3s-certificates"); r.Outcome != Warned || !strings.Contains(r.Fix, "systemctl restart k3s") {
		t.Fatalf("certificate expiring: %+v", r)
	}
	e.Now = func() time.Time { return time.Now().Add(20 * 24 * time.Hour) }
	if r := runCheck(t, e, "host-k3s-certificates"); r.Outcome != Failed || !strings.Contains(r.Detail, "expired") {
		t.Fatalf("certificate expired: %+v", r)
	}

	// On an existing cluster the host is not the appliance's: every host check skips.
	for _, r := range Run(context.Background(), &Env{}, hostChecks()).Results {
		if r.Outcome != Skipped {
			t.Fatalf("%s without a host: %+v", r.ID, r)
		}
	}
}

func TestSelectAndExitCodes(t *testing.T) {
	if _, err := Select(All(), []string{"gitops-drfit"}, nil); err == nil || !strings.Contains(err.Error(), "gitops-drift") {
		t.Fatalf("an unknown check must be refused naming the known ones: %v", err)
	}
	if _, err := Select(All(), nil, []string{"network"}); err == nil || !strings.Contains(err.Error(), "user-path") {
		t.Fatalf("an unknown group must be refused naming the known ones: %v", err)
	}
	part, err := Select(All(), []string{"host-clock"}, []string{"secrets"})
	if err != nil || len(part) != 4 {
		t.Fatalf("--check host-clock --group secrets: %d checks, %v", len(part), err)
	}
	seen := map[string]bool{}
	for _, c := range All() {
		if seen[c.ID] || !strings.HasPrefix(c.ID, c.Group+"-") {
			t.Fatalf("check ids must be unique and start with their group: %s (%s)", c.ID, c.Group)
		}
		seen[c.ID] = true
	}
	mk := func(outcomes ...Outcome) *Report {
		var checks []Check
		for i, o := range outcomes {
			checks = append(checks, Check{ID: string(rune('a' + i)), Group: "host", Run: func(context.Context, *Env) Finding { return Finding{Outcome: o, Detail: "x"} }})
		}
		return Run(context.Background(), &Env{}, checks)
	}
	for _, tc := range []struct {
		outcomes []Outcome
		code     int
	}{{[]Outcome{Passed, Skipped}, 0}, {[]Outcome{Passed, Warned}, 4}, {[]Outcome{Warned, Failed}, 3}} {
		rep := mk(tc.outcomes...)
		if rep.Summary.ExitCode != tc.code {
			t.Fatalf("%v: exit %d, want %d", tc.outcomes, rep.Summary.ExitCode, tc.code)
		}
		var ec interface{ ExitCode() int }
		if err := rep.Err(); tc.code == 0 && err != nil || tc.code != 0 && (err == nil || !asExit(err, &ec) || ec.ExitCode() != tc.code) {
			t.Fatalf("%v: Err() = %v", tc.outcomes, err)
		}
	}
	// A check that panics is one failed finding; the others still report.
	rep := Run(context.Background(), &Env{}, []Check{
		{ID: "host-a", Group: "host", Run: func(context.Context, *Env) Finding { panic("boom") }},
		{ID: "host-b", Group: "host", Run: func(context.Context, *Env) Finding { return Pass("fine") }},
	})
	if rep.Results[0].Outcome != Failed || !strings.Contains(rep.Results[0].Detail, "boom") || rep.Results[1].Outcome != Passed {
		t.Fatalf("a crashing check: %+v", rep.Results)
	}
	// A check that outlives its deadline fails saying so.
	rep = Run(context.Background(), &Env{}, []Check{{ID: "host-slow", Group: "host", Timeout: 50 * time.Millisecond, Run: func(ctx context.Context, _ *Env) Finding {
		<-ctx.Done()
		return Fail("f", "waited for the answer")
	}}})
	if !strings.Contains(rep.Results[0].Detail, "no answer within 50ms") {
		t.Fatalf("a slow check: %+v", rep.Results[0])
	}
}

func asExit(err error, target *interface{ ExitCode() int }) bool {
	ec, ok := err.(interface{ ExitCode() int })
	*target = ec
	return ok
}

// TestReportText is the text report's golden file: groups in order, the
// symbols, the fix under warnings and failures only.
func TestReportText(t *testing.T) {
	rep := &Report{Results: []Result{
		{ID: "host-disk", Group: "host", Outcome: Passed, Detail: "/var/lib/docs-appliance 80.1 GiB free (61%), 97% inodes free"},
		{ID: "host-clock", Group: "host", Outcome: Warned, Detail: "NTP is not synchronised", Fix: "enable time synchronisation"},
		{ID: "gitops-drift", Group: "gitops", Outcome: Failed, Detail: "1 of 40 object(s) differ from Git: changed by hand: ConfigMap docs/settings",
			Fix: "changes belong in Git"},
		{ID: "app-workers", Group: "app", Outcome: Skipped, Detail: "this application has no background worker"},
	}}
	rep.count()
	golden.Check(t, "report.txt", []byte(rep.Text()))
}
