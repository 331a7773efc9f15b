//go:build e2e

package install

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/fluxcd/pkg/git"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// The groups the stand-in train can pass: it has no k3s on this host
// (host skips: install --kubeconfig), no database, gateway or identity of
// its own (those checks skip, saying so; their faults are proven against
// a real API server in installer/doctor). The user path is real: see
// userPath.
var doctorGroups = "cluster,gitops,secrets,platform,edge,app,user-path"

// runDoctor runs the real binary and returns its one JSON document and exit code.
func (e *env) runDoctor(ctx context.Context, t *testing.T, extra ...string) (*doctor.Report, int) {
	t.Helper()
	args := append([]string{"--state-dir", e.state, "doctor", "--kubeconfig", e.kubeconfig, "--train-file", e.train, "-o", "json"}, extra...)
	if e.users != nil {
		args = append(args, e.users.doctorArgs()...)
	}
	cmd := exec.CommandContext(ctx, e.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running doctor: %v", err)
	}
	if code == 1 {
		t.Fatalf("doctor could not run (exit 1):\n%s\nstderr:\n%s", out, tail(stderr.String(), 20))
	}
	rep := &doctor.Report{}
	if err := json.Unmarshal(out, rep); err != nil {
		t.Fatalf("doctor's stdout is not one JSON report (exit %d): %v\n%s\nstderr:\n%s", code, err, out, stderr.String())
	}
	if code != rep.Summary.ExitCode {
		t.Fatalf("doctor exited %d, its report says %d", code, rep.Summary.ExitCode)
	}
	return rep, code
}

// expectFinding runs doctor until the check shows outcome (Flux and the
// kubelet need a moment to notice a fault), and returns the result.
func (e *env) expectFinding(ctx context.Context, t *testing.T, id string, outcome doctor.Outcome, want string) doctor.Result {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rep, _ := e.runDoctor(ctx, t, "--group", doctorGroups)
		res, ok := rep.Get(id)
		if !ok {
			t.Fatalf("doctor did not run %s", id)
		}
		if res.Outcome == outcome && strings.Contains(res.Detail, want) {
			if outcome != doctor.Passed && res.Fix == "" {
				t.Fatalf("%s is %s without a fix", id, outcome)
			}
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s %q (fix %q), want %s naming %q", id, res.Outcome, res.Detail, res.Fix, outcome, want)
		}
		time.Sleep(3 * time.Second)
	}
}

// expectHealthy waits until every check of the groups passes or skips.
func (e *env) expectHealthy(ctx context.Context, t *testing.T) *doctor.Report {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rep, code := e.runDoctor(ctx, t, "--group", doctorGroups)
		if code == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("doctor on a healthy install exits %d:\n%s", code, rep.Text())
		}
		time.Sleep(3 * time.Second)
	}
}

// reconcile asks Flux to fetch and apply now, as `flux reconcile --with-source` does.
func (e *env) reconcile(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := gitops.RequestReconcile(ctx, e.c, gitops.GitRepositoryGVR, gitops.FluxName); err != nil {
		t.Fatal(err)
	}
	ks, err := gitops.ListKustomizations(ctx, e.c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if err := gitops.RequestReconcile(ctx, e.c, gitops.KustomizationGVR, k.Name); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) doctorFaults(ctx context.Context, t *testing.T) {
	e.users = e.setUpUserPath(ctx, t)
	defer func() { e.users = nil }()
	out := e.mustInstall(ctx, t, e.users.installArgs...)
	if strings.Contains(out, "users cannot reach") || strings.Contains(out, "user-path-") {
		t.Errorf("install's user-path step did not pass:\n%s", tail(out, 20))
	}
	// The one warning of a fresh install: nobody confirmed an offline copy of the age key yet.
	e.expectFinding(ctx, t, "secrets-key-backup", doctor.Warned, "no offline copy of the age key")
	if out, err := exec.CommandContext(ctx, e.bin, "--state-dir", e.state, "key", "confirm-backup").CombinedOutput(); err != nil {
		t.Fatalf("key confirm-backup: %v\n%s", err, out)
	}
	start := time.Now()
	rep := e.expectHealthy(ctx, t)
	t.Logf("doctor on the healthy install: %d passed, %d skipped in %s (wall time of the whole command)", rep.Summary.Passed, rep.Summary.Skipped, time.Since(start).Round(time.Millisecond))
	for _, id := range []string{"cluster-nodes", "gitops-source", "gitops-kustomizations", "gitops-drift", "secrets-decrypt", "secrets-cluster-key", "app-workloads",
		"user-path-dns", "user-path-tls", "user-path-config-api", "user-path-oidc", "user-path-login", "user-path-media-auth", "user-path-websocket", "user-path-s3", "edge-redirect"} {
		if r, _ := rep.Get(id); r.Outcome != doctor.Passed {
			t.Errorf("%s on a healthy install: %s %s", id, r.Outcome, r.Detail)
		}
	}

	t.Run("the Docs workload scaled to 0", func(t *testing.T) {
		e.patch(ctx, t, "apps", "v1", "deployments", appNamespace, appName, `{"spec":{"replicas":0}}`)
		e.expectFinding(ctx, t, "app-workloads", doctor.Failed, appName+": scaled to 0")
		e.expectFinding(ctx, t, "gitops-drift", doctor.Failed, "Deployment "+appNamespace+"/"+appName)
		e.reconcile(ctx, t)
		e.expectFinding(ctx, t, "app-workloads", doctor.Passed, appName)
	})
	t.Run("a suspended Kustomization", func(t *testing.T) {
		e.patch(ctx, t, "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", gitops.FluxNamespace, "apps", `{"spec":{"suspend":true}}`)
		e.expectFinding(ctx, t, "gitops-suspended", doctor.Warned, "layer apps")
		e.patch(ctx, t, "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", gitops.FluxNamespace, "apps", `{"spec":{"suspend":false}}`)
		e.expectFinding(ctx, t, "gitops-suspended", doctor.Passed, "nothing suspended")
	})
	t.Run("an object edited by hand", func(t *testing.T) {
		// A field Git sets (a label someone adds is not drift: Flux leaves it alone too).
		e.patch(ctx, t, "e2e.docs-appliance.test", "v1", "widgets", "operators", "default", `{"spec":{"domain":"edited.by.hand"}}`)
		e.expectFinding(ctx, t, "gitops-drift", doctor.Failed, "changed by hand: Widget operators/default")
		e.reconcile(ctx, t)
		e.expectFinding(ctx, t, "gitops-drift", doctor.Passed, "as in Git")
	})
	t.Run("an encrypted file corrupted", func(t *testing.T) {
		file := "environments/production/secrets/" + appNamespace + "/" + appName + "-token.yaml"
		orig := e.pushFile(ctx, t, file, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AAAA", 1))
		}, "corrupt a secret (doctor e2e)")
		e.expectFinding(ctx, t, "secrets-decrypt", doctor.Failed, file)
		e.pushFile(ctx, t, file, func([]byte) []byte { return orig }, "repair the secret (doctor e2e)")
		e.expectFinding(ctx, t, "secrets-decrypt", doctor.Passed, "decrypt")
	})
	t.Run("the git server stopped", func(t *testing.T) {
		e.scaleGitServer(ctx, t, 0)
		res := e.expectFinding(ctx, t, "gitops-repository", doctor.Failed, "reading the desired-state repository")
		if !strings.Contains(res.Fix, "docs-appliance install") {
			t.Errorf("the fix does not say how to restore the git server: %s", res.Fix)
		}
		e.mustInstall(ctx, t, e.users.installArgs...)
		e.expectFinding(ctx, t, "gitops-repository", doctor.Passed, "HEAD")
	})
	t.Run("a certificate about to expire", func(t *testing.T) {
		renew := e.installTLSFor(ctx, t, 4*24*time.Hour+12*time.Hour, e.users.installArgs)
		e.expectFinding(ctx, t, "edge-certificates", doctor.Warned, "expires in 4 day(s)")
		e.expectFinding(ctx, t, "user-path-tls", doctor.Warned, "4 day")
		renew(90 * 24 * time.Hour)
		e.expectFinding(ctx, t, "edge-certificates", doctor.Passed, "expires in 89 day(s)")
	})
	e.expectHealthy(ctx, t)

	t.Run("the support bundle of the installed appliance holds no secret", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "support.tar.gz")
		start := time.Now()
		rep, code := e.runDoctor(ctx, t, "--group", doctorGroups, "--support-bundle", bundle)
		t.Logf("doctor with the support bundle: %s, exit %d", time.Since(start).Round(time.Millisecond), code)
		info, err := os.Stat(bundle)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("support bundle: %v (mode %v)", err, info.Mode())
		}
		files := readBundle(t, bundle)
		if files["doctor.json"] == nil || files["manifest.json"] == nil || rep == nil {
			t.Fatalf("the bundle lacks doctor.json or manifest.json: %d files", len(files))
		}
		store, err := secrets.OpenStoreReadOnly(e.state)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]string{"the stand-in's token": e.token, "the age key": store.Identity().String()}
		for _, n := range store.Names() {
			values[n], _ = store.Get(n)
		}
		for name, data := range files {
			for what, v := range values {
				if len(v) >= 8 && strings.Contains(string(data), v) {
					t.Errorf("%s in the bundle holds %s", name, what)
				}
			}
		}
		t.Logf("support bundle: %d files, %d bytes", len(files), info.Size())
	})
}

func (e *env) patch(ctx context.Context, t *testing.T, group, version, resource, ns, name, patch string) {
	t.Helper()
	ri := e.c.Dynamic.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: resource}).Namespace(ns)
	if _, err := ri.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatalf("editing %s %s/%s by hand: %v", resource, ns, name, err)
	}
}

// pushFile changes one file of the desired-state repository as an
// operator's commit would, and returns its previous content.
func (e *env) pushFile(ctx context.Context, t *testing.T, rel string, change func([]byte) []byte, message string) []byte {
	t.Helper()
	repo, closeFn := e.clone(ctx, t)
	defer closeFn()
	orig, err := repo.ReadFile(rel)
	if err != nil || orig == nil {
		t.Fatalf("reading %s: %v", rel, err)
	}
	if err := os.WriteFile(filepath.Join(repo.Dir(), filepath.FromSlash(rel)), change(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(git.Signature{Name: "e2e operator", Email: "operator@e2e.test", When: time.Now()}, message); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx); err != nil {
		t.Fatal(err)
	}
	return orig
}
