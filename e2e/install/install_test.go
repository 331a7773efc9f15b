//go:build e2e

package install

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/e2e/appliance"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// Names of the test train.
const (
	trainName    = appliance.TrainName
	appNamespace = "standin"
	appName      = "standin-app"
)

// env is everything the installs of the test share.
type env struct {
	// app is the binary, the imported images and their pins (e2e/appliance).
	app                                                *appliance.Env
	bin, kubeconfig, config, train, charts, state, mod string
	// pins are the train's images; appImage the stand-in pinned by digest.
	pins     []pin
	appImage string
	// token is the value of the stand-in's Secret, drawn at random: the app must show it.
	token string
	c     *cluster.Client
	// users is the real user path while the doctor test runs (doctor and install get its flags).
	users *userPath
}

func TestInstallHandsOverToGitAndFlux(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	e := setup(ctx, t)

	var first time.Duration
	t.Run("first install converges and the app reads the decrypted secret", func(t *testing.T) {
		start := time.Now()
		out := e.mustInstall(ctx, t)
		first = time.Since(start)
		t.Logf("output of the first install:\n%s", out)
		t.Logf("first install: %s from start to every Kustomization Ready (node up in %s)", first.Round(100*time.Millisecond), testNode.Took.Round(100*time.Millisecond))
		for _, want := range []string{"bootstrap layer: ", "committed ", "docs-appliance production: install train " + trainName, "crds: ready", "secrets: ready", "operators: ready", "apps: ready", "Flux Kustomizations ready"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if strings.Contains(out, "goroutine ") {
			t.Error("the install printed a stack trace")
		}
		store, err := secrets.OpenStoreReadOnly(e.state)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range append(store.Names(), "") {
			v, _ := store.Get(name)
			if name == "" {
				v = e.token
			}
			if len(v) >= 8 && strings.Contains(out, v) {
				t.Errorf("the install printed the value of secret %q", name)
			}
		}
		e.checkConverged(ctx, t, "docs.e2e.test")
		e.checkRepository(ctx, t)
	})
	if t.Failed() {
		return
	}

	t.Run("rerun with nothing changed commits nothing and restarts nothing", func(t *testing.T) {
		before := e.snapshot(ctx, t)
		out := e.mustInstall(ctx, t)
		after := e.snapshot(ctx, t)
		if !strings.Contains(out, "up to date") || strings.Contains(out, "committed ") {
			t.Errorf("output does not say up to date, or committed:\n%s", out)
		}
		if before.head != after.head {
			t.Errorf("a rerun committed: %s → %s", before.head, after.head)
		}
		for k, v := range before.versions {
			if after.versions[k] != v {
				t.Errorf("%s changed on a rerun: %s → %s", k, v, after.versions[k])
			}
		}
	})

	t.Run("a config change goes through Git as one commit", func(t *testing.T) {
		before := e.snapshot(ctx, t)
		out := e.mustInstall(ctx, t, "--set", "domain=changed.e2e.test")
		if !strings.Contains(out, "config change: domain") {
			t.Errorf("the commit does not say what changed:\n%s", out)
		}
		after := e.snapshot(ctx, t)
		if after.commits != before.commits+1 {
			t.Errorf("%d commits, want %d", after.commits, before.commits+1)
		}
		e.checkConverged(ctx, t, "changed.e2e.test")
	})

	t.Run("doctor: a healthy install passes, each fault is named with its fix and clears when repaired", func(t *testing.T) {
		e.doctorFaults(ctx, t)
	})

	t.Run("tls.mode provided installs the operator's certificate, and a renewal rotates only its Secret", func(t *testing.T) {
		e.installProvidedTLS(ctx, t)
	})

	t.Run("install without --kubeconfig: preflight, k3s's files and service, hand-over, converged", func(t *testing.T) {
		e.installOnHost(ctx, t, "hostpath.e2e.test")
	})

	// Killed installs: SIGKILL at every step of the plan, each followed by a rerun that gets
	// past it. Each round takes another domain, so every step from the commit on has work.
	t.Run("an install killed at any step is finished by a rerun", func(t *testing.T) {
		plan := e.planSteps(ctx, t)
		killed := 0
		for n, step := range plan {
			domain := fmt.Sprintf("killed-%d.e2e.test", n)
			set := []string{"--set", "domain=" + domain}
			if step.ID == "bootstrap" {
				// The bootstrap layer does not change with the domain: give it work the way an
				// operator's hand would, by scaling the git server down behind install's back.
				e.scaleGitServer(ctx, t, 0)
			}
			start := time.Now()
			out, reached := e.installSignalledAtStep(ctx, t, step.Title, os.Kill, set...)
			if !reached {
				// The step had nothing to do in this run (its check said so), so it cannot be
				// killed; the run finished, which is what a rerun must do anyway.
				t.Logf("step %s had no work in this round (%s)", step.ID, time.Since(start).Round(100*time.Millisecond))
				e.checkConverged(ctx, t, domain)
				continue
			}
			killed++
			t.Logf("killed at step %s after %s; output ended:\n%s", step.ID, time.Since(start).Round(100*time.Millisecond), tail(out, 3))
			rerun := e.mustInstall(ctx, t, set...)
			if n > indexOf(plan, "commit") && !strings.Contains(rerun, "up to date") {
				t.Errorf("the killed run had pushed, so the rerun should find the repository up to date:\n%s", rerun)
			}
			e.checkConverged(ctx, t, domain)
			if left, _ := filepath.Glob(filepath.Join(e.state, "work", "repo-*")); len(left) != 0 {
				t.Errorf("clones left behind: %v", left)
			}
		}
		if killed < len(plan)/2 {
			t.Errorf("only %d of %d steps could be killed", killed, len(plan))
		}
	})

	t.Run("Ctrl-C stops an install cleanly and a rerun finishes it", func(t *testing.T) {
		set := []string{"--set", "domain=interrupted.e2e.test"}
		start := time.Now()
		out := e.installSignalledAt(ctx, t, "► Waiting for Flux to apply", os.Interrupt, set...)
		if !strings.Contains(out, "interrupted; Flux goes on applying it") {
			t.Errorf("the interrupted install does not say it was interrupted:\n%s", tail(out, 6))
		}
		t.Logf("interrupted after %s; its output ended:\n%s", time.Since(start).Round(100*time.Millisecond), tail(out, 4))
		if left, _ := filepath.Glob(filepath.Join(e.state, "work", "repo-*")); len(left) != 0 {
			t.Errorf("an interrupted install left its clone: %v", left)
		}
		e.mustInstall(ctx, t, set...)
		e.checkConverged(ctx, t, "interrupted.e2e.test")
	})

	t.Run("a timeout names the Kustomization, its condition and the objects not ready", func(t *testing.T) {
		// A train whose app image is on no node and in no reachable registry.
		missing := pin{Reference: "docs-appliance.test/missing:e2e", Digest: "sha256:" + strings.Repeat("0", 64)}
		dir := t.TempDir()
		broken := filepath.Join(dir, "train.yaml")
		e.writeTrain(t, broken, filepath.Join(dir, "charts"), missing.Reference+"@"+missing.Digest, []pin{missing})
		args := e.argsWith(e.state, broken, filepath.Join(dir, "charts"), "--timeout", "90s", "--set", "domain=interrupted.e2e.test")
		start := time.Now()
		// The image check of the cluster preflight would refuse this train up front: skip it,
		// knowingly, to see what a stuck rollout looks like.
		out, err := exec.CommandContext(ctx, e.bin, append(args, "--ignore-preflight=cluster-images")...).CombinedOutput()
		if err == nil {
			t.Fatalf("an app that cannot start converged:\n%s", out)
		}
		t.Logf("gave up after %s:\n%s", time.Since(start).Round(time.Second), tail(string(out), 8))
		for _, want := range []string{"did not converge on revision main@sha1:", "Kustomization flux-system/apps:", "Deployment standin/standin-app is InProgress",
			"pod standin-app-"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the error lacks %q", want)
			}
		}
		// The kubelet's own words come once it has tried to pull (not always within the wait).
		if !strings.Contains(string(out), "docs-appliance.test/missing") {
			t.Log("the pod's state did not name the missing image yet")
		}
		// Back to the good train: one more commit, and everything converges again.
		e.mustInstall(ctx, t, "--set", "domain=interrupted.e2e.test")
		e.checkConverged(ctx, t, "interrupted.e2e.test")
	})

	t.Run("an unusable age key is reported and changes nothing", func(t *testing.T) {
		before := e.snapshot(ctx, t)
		broken := filepath.Join(t.TempDir(), "state")
		if err := os.CopyFS(broken, os.DirFS(e.state)); err != nil {
			t.Fatal(err)
		}
		// os.CopyFS copies 0644; the key must be 0600 or it is refused for that alone.
		if err := os.WriteFile(filepath.Join(broken, "age.key"), []byte("AGE-SECRET-KEY-1BROKEN\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(broken, "age.key"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := e.install(ctx, t, broken, "--set", "domain=interrupted.e2e.test")
		t.Logf("with a broken key:\n%s", tail(out, 3))
		if err == nil || !strings.Contains(out, "does not hold a valid age private key") || !strings.Contains(out, "restore it from your backup") {
			t.Errorf("want a clear refusal, got %v:\n%s", err, out)
		}
		if strings.Contains(out, "BROKEN") {
			t.Error("the key file's content was shown")
		}

		// Another state folder (a lost one replaced by a fresh install) brings another key:
		// the cluster's must not be overwritten.
		fresh := filepath.Join(t.TempDir(), "fresh-state")
		out, err = e.install(ctx, t, fresh, "--set", "domain=interrupted.e2e.test")
		t.Logf("with another state folder:\n%s", tail(out, 3))
		if err == nil || !strings.Contains(out, "the cluster's age key") || !strings.Contains(out, "nothing was changed") {
			t.Errorf("want the key mismatch refused, got %v:\n%s", err, out)
		}
		after := e.snapshot(ctx, t)
		if before.head != after.head || before.versions["Secret flux-system/sops-age"] != after.versions["Secret flux-system/sops-age"] {
			t.Error("a refused install changed the repository or the cluster's key")
		}
		e.checkConverged(ctx, t, "interrupted.e2e.test")
	})

	t.Run("memory of Flux and the git server", func(t *testing.T) {
		e.reportMemory(ctx, t)
	})

	t.Run("environments: production installed from a shared repository stays unchanged while staging renders into it", func(t *testing.T) {
		e.sharedRepositoryEnvironments(ctx, t)
	})
}

func setup(ctx context.Context, t *testing.T) *env {
	t.Helper()
	a := appliance.Setup(ctx, t, testNode)
	dir := t.TempDir()
	e := &env{app: a, bin: a.Bin, mod: a.Mod, c: a.Client, pins: a.Pins, appImage: a.Standin, kubeconfig: testNode.Kubeconfig,
		state: filepath.Join(dir, "state"), charts: filepath.Join(dir, "charts"),
		config: filepath.Join(a.Mod, "e2e", "testdata", "install", "appliance.yaml"), train: filepath.Join(dir, "train.yaml")}
	// Charts, packaged now with the pinned image and a random token.
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	e.token = hex.EncodeToString(tok)
	e.writeTrain(t, e.train, e.charts, e.appImage, nil)
	return e
}

// pin is an image of the test train.
type pin = appliance.Pin

// writeTrain packages the stand-in charts into chartsDir (the app running appImage) and writes
// the train pinning them, with the test's images and extra ones, to path.
func (e *env) writeTrain(t *testing.T, path, chartsDir, appImage string, extra []pin) {
	t.Helper()
	e.app.WriteTrain(t, path, chartsDir, []appliance.Chart{
		{Name: "standin-operator", Layer: "operators", Namespace: "operators", Values: map[string]any{"image": e.appImage}},
		{Name: appName, Layer: "apps", Namespace: appNamespace, Values: map[string]any{"image": appImage, "token": e.token}},
	}, append(append([]pin{}, e.pins...), extra...))
}

// install runs the binary with the test's inputs; extra flags come last.
func (e *env) install(ctx context.Context, t *testing.T, state string, extra ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, e.bin, e.args(state, extra...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) args(state string, extra ...string) []string {
	return e.argsWith(state, e.train, e.charts, extra...)
}

func (e *env) argsWith(state, train, charts string, extra ...string) []string {
	return append([]string{"--state-dir", state, "install", "--kubeconfig", e.kubeconfig, "--config", e.config,
		"--train-file", train, "--charts", charts, "--non-interactive", "--timeout", "10m"}, extra...)
}

func (e *env) mustInstall(ctx context.Context, t *testing.T, extra ...string) string {
	t.Helper()
	out, err := e.install(ctx, t, e.state, extra...)
	if err != nil {
		t.Fatalf("install %v: %v\n%s", extra, err, out)
	}
	return out
}

// scaleGitServer sets the in-cluster git server's replicas by hand (another field manager).
func (e *env) scaleGitServer(ctx context.Context, t *testing.T, n int32) {
	t.Helper()
	sc, err := e.c.Kube.AppsV1().Deployments(gitops.GitNamespace).GetScale(ctx, gitops.GitService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = n
	if _, err := e.c.Kube.AppsV1().Deployments(gitops.GitNamespace).UpdateScale(ctx, gitops.GitService, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// planSteps are the steps `install --dry-run` lists for the test's inputs: the same list the
// real install runs.
func (e *env) planSteps(ctx context.Context, t *testing.T) []planStep {
	t.Helper()
	args := append(e.args(filepath.Join(t.TempDir(), "dry-state"), "--dry-run", "--out", filepath.Join(t.TempDir(), "out")), "-o", "json")
	cmd := exec.CommandContext(ctx, e.bin, args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install --dry-run: %v\n%s", err, out)
	}
	// stdout carries one JSON document, the plan.
	var plan struct {
		Steps []planStep `json:"steps"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var doc struct {
			Steps []planStep `json:"steps"`
		}
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("reading the plan: %v\n%s", err, out)
		}
		if len(doc.Steps) > 0 {
			plan = doc
		}
	}
	if len(plan.Steps) == 0 {
		t.Fatalf("the plan lists no steps:\n%s", out)
	}
	return plan.Steps
}

type planStep struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func indexOf(plan []planStep, id string) int {
	for n, s := range plan {
		if s.ID == id {
			return n
		}
	}
	return -1
}

// installSignalledAt starts an install and sends it sig when a line of its output contains at.
func (e *env) installSignalledAt(ctx context.Context, t *testing.T, at string, sig os.Signal, extra ...string) string {
	t.Helper()
	out, reached := e.signalled(ctx, t, func(line string) bool { return strings.Contains(line, at) }, sig, extra...)
	if !reached {
		t.Fatalf("the install ended before reaching %q:\n%s", at, out)
	}
	return out
}

// installSignalledAtStep sends sig when the step whose planned title is title starts (a plain
// status line "► <title>"; titles that depend on facts keep their first words). It reports
// whether the step started.
func (e *env) installSignalledAtStep(ctx context.Context, t *testing.T, title string, sig os.Signal, extra ...string) (string, bool) {
	t.Helper()
	return e.signalled(ctx, t, appliance.StepStarted(title), sig, extra...)
}

func (e *env) signalled(ctx context.Context, t *testing.T, match func(string) bool, sig os.Signal, extra ...string) (string, bool) {
	t.Helper()
	out, killed, err := appliance.Signalled(t, exec.CommandContext(ctx, e.bin, e.args(e.state, extra...)...), match, sig)
	if !killed && err != nil {
		t.Fatalf("the install failed before it could be signalled: %v\n%s", err, out)
	}
	return out, killed
}

// checkConverged checks every Flux Kustomization Ready at the branch head, Flux and the git
// server running, and the app answering with the domain and the secret it was given.
func (e *env) checkConverged(ctx context.Context, t *testing.T, domain string) {
	t.Helper()
	head := e.snapshot(ctx, t).head
	rev := "main@sha1:" + head
	list, err := e.c.Dynamic.Resource(gitops.KustomizationGVR).Namespace(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, k := range list.Items {
		names[k.GetName()] = true
		applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		if applied != rev {
			t.Errorf("Kustomization %s applied %s, head is %s", k.GetName(), applied, rev)
		}
	}
	for _, n := range []string{"flux-system", "crds", "secrets", "operators", "apps"} {
		if !names[n] {
			t.Errorf("no Kustomization %s", n)
		}
	}
	var refs []cluster.Ref
	for _, c := range gitops.FluxComponents {
		refs = append(refs, cluster.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: gitops.FluxNamespace, Name: c})
	}
	refs = append(refs, cluster.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: gitops.GitNamespace, Name: gitops.GitService},
		cluster.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: appNamespace, Name: appName},
		cluster.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "operators", Name: "standin-operator"})
	if err := e.c.Wait(ctx, refs, cluster.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	w, err := e.c.Dynamic.Resource(schema.GroupVersionResource{Group: "e2e.docs-appliance.test", Version: "v1", Resource: "widgets"}).
		Namespace("operators").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d, _, _ := unstructured.NestedString(w.Object, "spec", "domain"); d != domain {
		t.Errorf("the custom resource says %q, want %q", d, domain)
	}
	svc, err := e.c.Kube.CoreV1().Services(appNamespace).Get(ctx, appName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The rollout of a new domain may still be replacing the pod behind the Service.
	var body string
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "5", "http://"+svc.Spec.ClusterIP+"/")
		body = string(out)
		if err == nil && strings.Contains(body, "stand-in for Docs at "+domain+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app does not answer for %s: %v\n%s", domain, err, body)
		}
		time.Sleep(time.Second)
	}
	// Compared, never printed: the token is a secret of this test.
	if !strings.Contains(body, "/etc/standin/token: "+e.token+"\n") {
		t.Error("the app does not show the secret the chart gave it: SOPS decryption in the cluster failed")
	}
}

// checkRepository clones the desired state as Flux sees it and checks what is in Git.
func (e *env) checkRepository(ctx context.Context, t *testing.T) {
	t.Helper()
	repo, closeFn := e.clone(ctx, t)
	defer closeFn()
	enc, err := repo.ReadFile("environments/production/secrets/" + appNamespace + "/" + appName + "-token.yaml")
	if err != nil || enc == nil {
		t.Fatalf("no encrypted Secret in the repository: %v", err)
	}
	if bytes.Contains(enc, []byte(e.token)) || !bytes.Contains(enc, []byte("ENC[AES256_GCM")) {
		t.Error("the Secret is not SOPS-encrypted in Git")
	}
	store, err := secrets.OpenStoreReadOnly(e.state)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := secrets.SecretValues(enc, store.Identity())
	if err != nil || vals["token"] != e.token {
		t.Errorf("the committed Secret does not decrypt to the token with the appliance's key: %v", err)
	}
	for _, f := range []string{"clusters/production/flux-system/gotk-components.yaml", "clusters/production/flux-system/gotk-sync.yaml", "clusters/production/secrets.yaml", "environments/production/appliance.yaml", ".sops.yaml"} {
		if data, _ := repo.ReadFile(f); data == nil {
			t.Errorf("the repository lacks %s", f)
		}
	}
	if data, _ := repo.ReadFile("clusters/production/flux-system/gotk-sync.yaml"); !bytes.Contains(data, []byte(gitops.SyncURL())) {
		t.Errorf("Flux does not sync from the cluster DNS name %s", gitops.SyncURL())
	}
	info, err := os.Stat(filepath.Join(e.state, "age.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("age key %v, mode %v", err, info.Mode())
	}
}

// clone opens the desired-state repository through a port-forward, as the installer does.
func (e *env) clone(ctx context.Context, t *testing.T) (*gitops.Repo, func()) {
	t.Helper()
	store, err := secrets.OpenStoreReadOnly(e.state)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := store.Get("git.password")
	fwd, err := e.c.PortForward(ctx, gitops.GitNamespace, "service/"+gitops.GitService, 80)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gitops.Clone(ctx, t.TempDir(), gitops.InClusterRemote(fwd.Addr, "main", password))
	if err != nil {
		fwd.Close()
		t.Fatal(err)
	}
	return repo, func() { repo.Close(); fwd.Close() }
}

// snapshot is what a rerun must not change.
type snapshot struct {
	head     string
	commits  int
	versions map[string]string // object → resourceVersion/generation/pod UIDs
}

func (e *env) snapshot(ctx context.Context, t *testing.T) snapshot {
	t.Helper()
	repo, closeFn := e.clone(ctx, t)
	defer closeFn()
	head, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{head: head, versions: map[string]string{}}
	out, err := exec.Command("git", "-C", repo.Dir(), "rev-list", "--count", "HEAD").CombinedOutput()
	if err != nil {
		t.Fatalf("counting commits: %v\n%s", err, out)
	}
	fmt.Sscan(string(out), &s.commits)
	for _, ns := range []string{gitops.FluxNamespace, gitops.GitNamespace, appNamespace, "operators"} {
		deps, err := e.c.Kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deps.Items {
			s.versions["Deployment "+ns+"/"+d.Name] = fmt.Sprint(d.Generation)
		}
		pods, err := e.c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			restarts := 0
			for _, cs := range p.Status.ContainerStatuses {
				restarts += int(cs.RestartCount)
			}
			s.versions["Pod "+ns+"/"+p.Name] = fmt.Sprintf("%s restarts=%d", p.UID, restarts)
		}
	}
	for _, ref := range [][2]string{{gitops.FluxNamespace, gitops.SOPSSecret}, {gitops.FluxNamespace, gitops.FluxName}, {gitops.GitNamespace, gitops.GitUsersSecret}} {
		sec, err := e.c.Kube.CoreV1().Secrets(ref[0]).Get(ctx, ref[1], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.versions["Secret "+ref[0]+"/"+ref[1]] = sec.ResourceVersion
	}
	return s
}

// reportMemory reads the working set of Flux's and the git server's pods from the kubelet
// (summary API, through the API server) and the RSS of their processes from /proc.
func (e *env) reportMemory(ctx context.Context, t *testing.T) {
	t.Helper()
	raw, err := e.c.Kube.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", nodeName(ctx, t, e), "proxy", "stats", "summary").DoRaw(ctx)
	var summary struct {
		Pods []struct {
			PodRef struct{ Name, Namespace string } `json:"podRef"`
			Memory *struct {
				WorkingSetBytes *uint64 `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"pods"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &summary)
	}
	kubelet := map[string]uint64{}
	if err != nil {
		t.Logf("kubelet stats unavailable: %v", err)
	}
	for _, p := range summary.Pods {
		if p.Memory != nil && p.Memory.WorkingSetBytes != nil {
			kubelet[p.PodRef.Namespace+"/"+p.PodRef.Name] = *p.Memory.WorkingSetBytes
		}
	}
	var totalWS, totalRSS uint64
	for _, ns := range []string{gitops.FluxNamespace, gitops.GitNamespace} {
		pods, err := e.c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			ws := kubelet[ns+"/"+p.Name]
			rss := podRSS(string(p.UID))
			totalWS += ws
			totalRSS += rss
			t.Logf("memory %s/%s: working set %d MiB (kubelet), RSS %d MiB (/proc)", ns, p.Name, ws>>20, rss>>20)
		}
	}
	t.Logf("memory of Flux + git server: working set %d MiB, RSS %d MiB", totalWS>>20, totalRSS>>20)
	if totalRSS == 0 {
		t.Error("found no process of the Flux or git server pods")
	}
}

func nodeName(ctx context.Context, t *testing.T, e *env) string {
	nodes, err := e.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("listing nodes: %v", err)
	}
	return nodes.Items[0].Name
}

// podRSS sums the resident memory of the processes in a pod's cgroup (cgroupfs driver: the
// path holds pod<uid>).
func podRSS(uid string) uint64 {
	procs, _ := os.ReadDir("/proc")
	var total uint64
	for _, p := range procs {
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil || !bytes.Contains(cg, []byte("pod"+uid)) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				var kb uint64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				total += kb << 10
			}
		}
	}
	return total
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
