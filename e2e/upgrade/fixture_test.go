//go:build e2e

package upgrade

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/appliance"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// Names of the stand-in trains and their app.
const (
	appNamespace = "standin"
	appName      = "standin-app"
)

// trainSpec is one stand-in train: its place in the graph, the stand-in app's chart version and
// image version, and whether its release ever becomes Ready.
type trainSpec struct {
	head         appliance.Train
	chart, image string
	neverReady   bool
}

// trains: 2099.03 upgrades from 01 directly too, but requires the stop at 02; 04 and 05 fail
// after their commit (a readiness probe on a path the stand-in does not serve), 05 after a
// stand-in migration it declares irreversible.
var trains = []trainSpec{
	{head: appliance.Train{Name: "2099.01"}, chart: "0.1.0", image: "v1"},
	{head: appliance.Train{Name: "2099.02", UpgradesFrom: []string{"2099.01"}}, chart: "0.2.0", image: "v2"},
	{head: appliance.Train{Name: "2099.03", UpgradesFrom: []string{"2099.01", "2099.02"}, RequiredStops: []string{"2099.02"}}, chart: "0.3.0", image: "v3"},
	{head: appliance.Train{Name: "2099.04", UpgradesFrom: []string{"2099.03"}}, chart: "0.4.0", image: "v4", neverReady: true},
	{head: appliance.Train{Name: "2099.05", UpgradesFrom: []string{"2099.03"}, Irreversible: []bundles.Irreversible{{Component: "standin",
		Reason: "stand-in migration: rewrites the stand-in's data for release v5; v3 does not read it"}}}, chart: "0.5.0", image: "v5", neverReady: true},
}

// fixture is the installed appliance and the trains the test moves it along.
type fixture struct {
	app                          *appliance.Env
	state, config, charts, kconf string
	// files are the train files by name; all of them, oldest first, go to upgrade and rollback.
	files map[string]string
	all   []string
	// token is the stand-in's Secret, drawn at random.
	token string
	// appAddr is the stand-in app's Service (ClusterIP:80), answered inside the node.
	appAddr string
}

func setup(ctx context.Context, t *testing.T) *fixture {
	t.Helper()
	a := appliance.Setup(ctx, t, testNode)
	dir := t.TempDir()
	f := &fixture{app: a, state: filepath.Join(dir, "state"), charts: filepath.Join(dir, "charts"), kconf: testNode.Kubeconfig,
		config: filepath.Join(a.Mod, "e2e", "testdata", "install", "appliance.yaml"), files: map[string]string{}}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	f.token = hex.EncodeToString(tok)
	var versions []string
	for _, tr := range trains {
		versions = append(versions, tr.image)
	}
	standins := a.StandinVersions(ctx, t, versions...)
	for _, tr := range trains {
		readiness := "/healthz"
		if tr.neverReady {
			readiness = "/never-ready"
		}
		path := filepath.Join(dir, tr.head.Name+".yaml")
		pin := standins[tr.image]
		a.WriteTrainAs(t, tr.head, path, f.charts, []appliance.Chart{
			{Name: "standin-operator", Layer: "operators", Namespace: "operators", Values: map[string]any{"image": a.Standin}},
			{Name: appName, Version: tr.chart, Layer: "apps", Namespace: appNamespace, Values: map[string]any{
				"image": pin.Pinned(), "token": f.token, "versioned": true, "readinessPath": readiness, "preStopSleepSeconds": 2}},
		}, append(append([]appliance.Pin{}, a.Pins...), pin))
		f.files[tr.head.Name] = path
		f.all = append(f.all, path)
	}
	return f
}

// install installs train 2099.01.
func (f *fixture) install(ctx context.Context, t *testing.T) string {
	t.Helper()
	out, err := f.app.Command(ctx, "--state-dir", f.state, "install", "--kubeconfig", f.kconf, "--config", f.config,
		"--train-file", f.files["2099.01"], "--charts", f.charts, "--non-interactive", "--timeout", "10m").CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	svc, err := f.app.Client.Kube.CoreV1().Services(appNamespace).Get(ctx, appName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.appAddr = svc.Spec.ClusterIP + ":80"
	return string(out)
}

// args are a command's arguments with every train file, the charts and the cluster.
func (f *fixture) args(command string, extra ...string) []string {
	args := []string{"--state-dir", f.state, command, "--kubeconfig", f.kconf, "--charts", f.charts}
	for _, file := range f.all {
		args = append(args, "--train-file", file)
	}
	return append(args, extra...)
}

// run is one run of the binary: its stdout, stderr and exit code (-1: it did not run).
type run struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r run) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stderr\n%s--- stdout\n%s", r.code, r.took.Round(100*time.Millisecond), r.stderr, r.stdout)
}

func (f *fixture) cmd(ctx context.Context, t *testing.T, command string, extra ...string) run {
	t.Helper()
	c := f.app.Command(ctx, f.args(command, extra...)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running %s: %v", command, err)
	}
	return r
}

// result is upgrade's and rollback's -o json document (the contract's JSON result).
type result struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Path    []string `json:"path"`
	Outcome string   `json:"outcome"`
	Hops    []struct {
		From           string          `json:"from"`
		To             string          `json:"to"`
		Outcome        string          `json:"outcome"`
		Seconds        float64         `json:"seconds"`
		Commit         string          `json:"commit"`
		RollbackCommit string          `json:"rollbackCommit"`
		Failure        string          `json:"failure"`
		Restore        json.RawMessage `json:"restore"`
		Steps          []struct {
			ID      string  `json:"id"`
			Title   string  `json:"title"`
			Outcome string  `json:"outcome"`
			Why     string  `json:"why"`
			Seconds float64 `json:"seconds"`
		} `json:"steps"`
	} `json:"hops"`
}

// decode reads the last JSON document of stdout that has the given key.
func decode(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	found := false
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("reading the JSON result: %v\n%s", err, stdout)
		}
		if err := json.Unmarshal(raw, v); err == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("no JSON result on stdout:\n%s", stdout)
	}
}

// planStep is a step of the --dry-run plan.
type planStep struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Outcome is planned, or skipped (Why says why) for a step with nothing to do here.
	Outcome string `json:"outcome"`
	Why     string `json:"why"`
}

// dryRun is the plan `upgrade --dry-run -o json` prints: every hop's steps, from the lists that run.
func (f *fixture) dryRun(ctx context.Context, t *testing.T, extra ...string) [][]planStep {
	t.Helper()
	r := f.cmd(ctx, t, "upgrade", append(extra, "--dry-run", "-o", "json")...)
	if r.code != 0 {
		t.Fatalf("upgrade --dry-run: %s", r)
	}
	var plan struct {
		Hops []struct {
			Steps []planStep `json:"steps"`
		} `json:"hops"`
	}
	decode(t, r.stdout, &plan)
	var out [][]planStep
	for _, h := range plan.Hops {
		out = append(out, h.Steps)
	}
	if len(out) == 0 || len(out[0]) == 0 {
		t.Fatalf("the dry run lists no steps:\n%s", r)
	}
	return out
}

// answer is what the stand-in app says now, inside the node.
func (f *fixture) answer(ctx context.Context, t *testing.T) string {
	t.Helper()
	out, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "5", "http://"+f.appAddr+"/")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// waitVersion waits until the app answers with version (its image) and chart, and shows the token.
func (f *fixture) waitVersion(ctx context.Context, t *testing.T, version, chart string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		body := f.answer(ctx, t)
		if strings.Contains(body, "STANDIN_VERSION="+version+"\n") && strings.Contains(body, "CHART_VERSION="+chart+"\n") {
			if !strings.Contains(body, "/etc/standin/token: "+f.token+"\n") { // compared, never printed
				t.Error("the app does not show the secret its chart gave it")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app does not answer as %s (chart %s):\n%s", version, chart, strings.ReplaceAll(body, f.token, "<token>"))
		}
		time.Sleep(time.Second)
	}
}

// waitDomain waits until the app answers for domain (its chart's MESSAGE names it).
func (f *fixture) waitDomain(ctx context.Context, t *testing.T, domain string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		body := f.answer(ctx, t)
		if strings.Contains(body, "stand-in for Docs at "+domain+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app does not answer for %s:\n%s", domain, strings.ReplaceAll(body, f.token, "<token>"))
		}
		time.Sleep(time.Second)
	}
}

// savedTrain is the train the saved config names.
func (f *fixture) savedTrain(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load(installer.SavedConfigPath(f.state))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Train
}

// history is the repository's commit subjects, newest first.
func (f *fixture) history(ctx context.Context, t *testing.T) []string {
	t.Helper()
	store, err := secrets.OpenStoreReadOnly(f.state)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := store.Get("git.password")
	fwd, err := f.app.Client.PortForward(ctx, gitops.GitNamespace, "service/"+gitops.GitService, 80)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	repo, err := gitops.Clone(ctx, t.TempDir(), gitops.InClusterRemote(fwd.Addr, "main", password))
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	out, err := exec.CommandContext(ctx, "git", "-C", repo.Dir(), "log", "--format=%s").CombinedOutput()
	if err != nil {
		t.Fatalf("reading the repository's history: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// count is how many subjects start with prefix.
func count(subjects []string, prefix string) int {
	n := 0
	for _, s := range subjects {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
