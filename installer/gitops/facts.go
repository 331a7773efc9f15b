package gitops

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// The facts install's steps read to decide whether they still have work: a killed install,
// run again, skips what these say is done.

// FluxInSync says why Flux bootstrap has nothing left to do, or "" when it has: every
// controller of the pinned version is available, the repository holds the appliance's Flux
// settings under clusters/<env>, and the flux-system Kustomization is Ready at revision (the
// repository's head) syncing clusters/<env>: an appliance moved to another environment (or from
// the layout before environments) bootstraps again, which points Flux at its new folder.
func FluxInSync(ctx context.Context, c *cluster.Client, repo *Repo, version, env, revision string) (string, error) {
	prov, err := FluxProvenance(version)
	if err != nil {
		return "", err
	}
	for _, ctl := range prov.Controllers {
		d, err := c.Kube.AppsV1().Deployments(FluxNamespace).Get(ctx, ctl.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading deployment %s/%s: %w", FluxNamespace, ctl.Name, err)
		}
		if len(d.Spec.Template.Spec.Containers) == 0 || !strings.HasSuffix(imageTag(d.Spec.Template.Spec.Containers[0].Image), ctl.Tag) {
			return "", nil
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas < 1 || d.Status.UpdatedReplicas < d.Status.Replicas {
			return "", nil
		}
	}
	cur, err := os.ReadFile(filepath.Join(repo.Dir(), filepath.FromSlash(TargetPath(env)), FluxNamespace, "kustomization.yaml"))
	if err != nil || string(cur) != fluxKustomization {
		return "", nil
	}
	k, err := readKustomization(ctx, c, FluxName, revision)
	if err != nil {
		return "", err
	}
	if !k.Ready {
		return "", nil
	}
	u, err := c.Dynamic.Resource(KustomizationGVR).Namespace(FluxNamespace).Get(ctx, FluxName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading Kustomization %s: %w", FluxName, err)
	}
	if p, _, _ := unstructured.NestedString(u.Object, "spec", "path"); path.Clean(p) != TargetPath(env) {
		return "", nil
	}
	return fmt.Sprintf("Flux %s is installed and syncs %s", version, shortRevision(revision)), nil
}

// imageTag is the tag of an image reference ("" when it has none), digest dropped.
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// Converged says why the wait for convergence has nothing to do — every named Kustomization is
// Ready at revision — or "" when it has.
func Converged(ctx context.Context, c *cluster.Client, names []string, revision string) (string, error) {
	states, err := readAll(ctx, c, ConvergeOptions{Names: names, Revision: revision})
	if err != nil {
		return "", err
	}
	for _, k := range states {
		if !k.Ready {
			return "", nil
		}
	}
	return fmt.Sprintf("all %d Flux Kustomizations are Ready at %s", len(states), shortRevision(revision)), nil
}

// Clean reports whether the working copy matches its head: nothing to commit.
func (r *Repo) Clean() (bool, error) {
	g, err := gogit.PlainOpen(r.dir)
	if err != nil {
		return false, fmt.Errorf("opening the working copy: %w", err)
	}
	w, err := g.Worktree()
	if err != nil {
		return false, fmt.Errorf("opening the working copy: %w", err)
	}
	s, err := w.Status()
	if err != nil {
		return false, fmt.Errorf("reading the working copy's status: %w", err)
	}
	return s.IsClean(), nil
}
