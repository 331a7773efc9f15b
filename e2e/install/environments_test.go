//go:build e2e

package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/git"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// sharedRepositoryEnvironments: the node's appliance, environment production, is installed
// from the in-cluster git server; a staging appliance (its own state folder, age key and domain)
// renders into the same repository and pushes, twice (its first render, then a config change).
// Production's Flux applies each new revision and changes nothing: the same objects in every
// Kustomization's inventory, the same generations and pods. It runs last in
// TestInstallHandsOverToGitAndFlux, on that test's install: the tests of this package share one
// node, one cluster holds one appliance (one age key), and Flux's bootstrap refuses to move an
// installed appliance's sync path (an environment is chosen at install).
func (e *env) sharedRepositoryEnvironments(ctx context.Context, t *testing.T) {
	e.mustInstall(ctx, t)
	e.checkConverged(ctx, t, "docs.e2e.test")
	repo, closeFn := e.clone(ctx, t)
	defer closeFn()
	if sync, _ := repo.ReadFile("clusters/production/flux-system/gotk-sync.yaml"); !strings.Contains(string(sync), "path: ./clusters/production") {
		t.Fatalf("Flux does not sync clusters/production:\n%s", sync)
	}

	stagingState := filepath.Join(t.TempDir(), "staging-state")
	for i, domain := range []string{"staging.e2e.test", "staging-changed.e2e.test"} {
		before, inv := e.snapshot(ctx, t), e.inventories(ctx, t)
		render := exec.CommandContext(ctx, e.bin, "--state-dir", stagingState, "render", "--config", e.config, "--train-file", e.train,
			"--charts", e.charts, "--set", "environment=staging", "--set", "domain="+domain, "--out", repo.Dir())
		if out, err := render.CombinedOutput(); err != nil {
			t.Fatalf("staging's render into the shared repository: %v\n%s", err, out)
		}
		// The marker says a folder is render's own; a clone is the appliance's, not render's.
		if err := os.Remove(filepath.Join(repo.Dir(), ".docs-appliance-render")); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		changed, err := exec.Command("git", "-C", repo.Dir(), "status", "--porcelain", "--untracked-files=all").CombinedOutput()
		if err != nil {
			t.Fatalf("git status: %v\n%s", err, changed)
		}
		lines := strings.Split(strings.TrimSpace(string(changed)), "\n")
		t.Logf("staging's render %d changed %d files of the shared repository", i, len(lines))
		for _, line := range lines {
			p := strings.TrimSpace(line[2:])
			if !strings.HasPrefix(p, "environments/staging/") && !strings.HasPrefix(p, "clusters/staging/") && p != ".sops.yaml" {
				t.Errorf("staging's render %d touched %s", i, p)
			}
		}
		hash, err := repo.Commit(git.Signature{Name: "staging", Email: "ops@staging.e2e.test"}, fmt.Sprintf("staging: render for %s", domain))
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Push(ctx); err != nil {
			t.Fatal(err)
		}
		e.waitApplied(ctx, t, repo.Revision(hash))
		after, invAfter := e.snapshot(ctx, t), e.inventories(ctx, t)
		if after.commits != before.commits+1 {
			t.Errorf("%d commits, want %d", after.commits, before.commits+1)
		}
		objects := 0
		for _, entries := range inv {
			objects += len(entries)
		}
		if len(inv) < 5 || objects < 10 {
			t.Fatalf("production's Kustomizations hold too little to compare: %v", inv)
		}
		t.Logf("production: %d Kustomizations, %d applied objects, %d generations and pods compared", len(inv), objects, len(before.versions))
		if !reflect.DeepEqual(inv, invAfter) {
			t.Errorf("production's inventories changed with staging's commit:\nbefore %v\nafter  %v", inv, invAfter)
		}
		for k, v := range before.versions {
			if after.versions[k] != v {
				t.Errorf("%s changed with staging's commit: %s → %s", k, v, after.versions[k])
			}
		}
		e.checkConverged(ctx, t, "docs.e2e.test")
	}
}

// inventories are the objects each Flux Kustomization applied, by Kustomization.
func (e *env) inventories(ctx context.Context, t *testing.T) map[string][]string {
	t.Helper()
	list, err := e.c.Dynamic.Resource(gitops.KustomizationGVR).Namespace(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, k := range list.Items {
		entries, _, _ := unstructured.NestedSlice(k.Object, "status", "inventory", "entries")
		for _, en := range entries {
			m, _ := en.(map[string]any)
			out[k.GetName()] = append(out[k.GetName()], fmt.Sprint(m["id"], " ", m["v"]))
		}
		sort.Strings(out[k.GetName()])
	}
	return out
}

// waitApplied asks Flux to fetch at once and waits until every Kustomization applied rev.
func (e *env) waitApplied(ctx context.Context, t *testing.T, rev string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := e.c.Dynamic.Resource(gitops.GitRepositoryGVR).Namespace(gitops.FluxNamespace).Patch(ctx, gitops.FluxName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list, err := e.c.Dynamic.Resource(gitops.KustomizationGVR).Namespace(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var behind []string
		for _, k := range list.Items {
			if applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision"); applied != rev {
				behind = append(behind, k.GetName()+" at "+applied)
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flux did not apply %s: %s", rev, strings.Join(behind, ", "))
		}
		time.Sleep(2 * time.Second)
	}
}
